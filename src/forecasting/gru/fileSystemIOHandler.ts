import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../../domain/errors.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/**
 * A tf.io IOHandler that saves and loads a LayersModel as `model.json` + `weights.bin` in a local
 * folder, the layout tfjs-node's `file://` handler writes, without needing tfjs-node (which cannot
 * install offline). Writes go to temporary names then rename, so a crash mid-save never leaves a
 * half-written artifact under the final names. Loading refuses a corrupt or inconsistent folder
 * with a ConfigError naming the file; the caller keeps the previous model in service.
 */
export function fileSystemIOHandler(dir: string): tf.io.IOHandler {
  return {
    save: async (artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new ConfigError('binary (GraphDef) model topologies are not supported; save a tf.LayersModel');
      }
      await mkdir(dir, { recursive: true });
      const weights = new Uint8Array(artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData));
      const modelJSON: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
      };
      if (artifacts.trainingConfig !== undefined) modelJSON.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata !== undefined) modelJSON.userDefinedMetadata = artifacts.userDefinedMetadata;
      // Weights first: a model.json under its final name always points at complete weights.
      await atomicWrite(path.join(dir, WEIGHTS_BIN), weights);
      await atomicWrite(path.join(dir, MODEL_JSON), JSON.stringify(modelJSON));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },

    load: async (): Promise<tf.io.ModelArtifacts> => {
      const jsonPath = path.join(dir, MODEL_JSON);
      const modelJSON = parseModelJSON(await readOrRefuse(jsonPath), jsonPath);
      return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: Uint8Array[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            // Paths are relative to model.json; refuse ones that climb out of the folder.
            const file = path.resolve(dir, p);
            if (path.relative(dir, file).startsWith('..')) throw new ConfigError(`${jsonPath}: weights path "${p}" leaves the model folder`);
            buffers.push(await readOrRefuse(file));
          }
        }
        const total = buffers.reduce((n, b) => n + b.byteLength, 0);
        const expected = specs.reduce((n, s) => n + byteSize(s), 0);
        if (total !== expected) {
          throw new ConfigError(`${dir}: weights hold ${total} bytes but model.json describes ${expected}; the artifact is truncated or mismatched, re-export it`);
        }
        const joined = new Uint8Array(total);
        let o = 0;
        for (const b of buffers) {
          joined.set(b, o);
          o += b.byteLength;
        }
        return [specs, joined.buffer];
      });
    },
  };
}

async function atomicWrite(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

async function readOrRefuse(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new ConfigError(`cannot read model file ${file}; check the models folder and its current-version pointer`, { cause: err });
  }
}

function parseModelJSON(bytes: Uint8Array, file: string): tf.io.ModelJSON {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new ConfigError(`${file} is not valid JSON; the artifact is corrupt, re-export it`, { cause: err });
  }
  const m = parsed as Partial<tf.io.ModelJSON> | null;
  if (m === null || typeof m !== 'object' || typeof m.modelTopology !== 'object' || m.modelTopology === null || !Array.isArray(m.weightsManifest)) {
    throw new ConfigError(`${file} lacks modelTopology or weightsManifest; it is not a tfjs layers model`);
  }
  return m as tf.io.ModelJSON;
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };

function byteSize(spec: tf.io.WeightsManifestEntry): number {
  if (spec.quantization !== undefined) throw new ConfigError(`weight "${spec.name}" is quantized; streamcast artifacts are float32`);
  const bytes = DTYPE_BYTES[spec.dtype];
  if (bytes === undefined) throw new ConfigError(`weight "${spec.name}" has unsupported dtype ${spec.dtype}`);
  return spec.shape.reduce((n, d) => n * d, 1) * bytes;
}
