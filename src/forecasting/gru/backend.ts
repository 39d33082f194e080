import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../../domain/errors.js';
import type { LogSink } from '../../observability/logger.js';

/** Compute backends in the order DESIGN.md prefers them. */
export const BACKEND_CANDIDATES = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendCandidate = (typeof BACKEND_CANDIDATES)[number];

export interface BackendChoice {
  /** tfjs backend name: both native packages register as `tensorflow`. */
  readonly name: 'tensorflow' | 'wasm' | 'cpu';
  /** The candidate that won (tells tfjs-node-gpu from tfjs-node). */
  readonly candidate: BackendCandidate;
  readonly simd: boolean;
  readonly threads: boolean;
}

export interface SelectBackendOptions {
  /** Candidates to try, in order; default all of `BACKEND_CANDIDATES`. `cpu` is always the last resort. */
  readonly prefer?: readonly string[];
  readonly logger?: LogSink;
}

const NATIVE_PACKAGE: Record<'tensorflow-gpu' | 'tensorflow', string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

// tfjs' engine is process-global, so the choice is too: the first call decides and every later
// call (from any module) gets the same answer instead of switching backends under live tensors.
let selected: Promise<BackendChoice> | undefined;

/**
 * Picks and activates the fastest available tfjs backend: tfjs-node-gpu → tfjs-node → wasm → cpu.
 * The native packages are optional dependencies whose installers download libtensorflow, so their
 * absence is the normal case and is logged at debug level only. Idempotent: later calls return the
 * first call's choice whatever their options. Await it before creating any tensor, or tfjs
 * initializes its `cpu` backend on its own, which is ~50× slower than wasm.
 */
export async function selectBackend(opts: SelectBackendOptions = {}): Promise<BackendChoice> {
  const prefer = validatePrefer(opts.prefer);
  selected ??= doSelect(prefer, opts.logger);
  return selected;
}

function validatePrefer(prefer: readonly string[] | undefined): readonly BackendCandidate[] {
  if (prefer === undefined) return BACKEND_CANDIDATES;
  const known = BACKEND_CANDIDATES as readonly string[];
  for (const p of prefer) {
    if (!known.includes(p)) {
      throw new ConfigError(`unknown compute backend "${p}"; use some of ${BACKEND_CANDIDATES.join(', ')} (in order of preference)`);
    }
  }
  return prefer as readonly BackendCandidate[];
}

async function doSelect(prefer: readonly BackendCandidate[], logger: LogSink | undefined): Promise<BackendChoice> {
  // tfjs writes its warnings (the cpu backend's "looks like you are running TensorFlow.js in
  // Node.js" banner, deprecations) with console.warn, straight into our JSON-lines log on stderr.
  // Production mode turns exactly those off (in tfjs 4.22 it gates warnings only; its correctness
  // checks follow the DEBUG flag). The choice of backend is logged by us instead.
  tf.enableProdMode();
  for (const candidate of prefer) {
    const choice = await tryCandidate(candidate, logger);
    if (choice) {
      logger?.info({ backend: choice.name, candidate: choice.candidate, simd: choice.simd, threads: choice.threads }, 'compute backend selected');
      return choice;
    }
  }
  // Reached only when `prefer` left cpu out and nothing else worked: cpu is always there.
  const choice = (await tryCandidate('cpu', logger))!;
  logger?.warn({ backend: 'cpu' }, 'compute backend selected: cpu (slow; no preferred backend could start)');
  return choice;
}

async function tryCandidate(candidate: BackendCandidate, logger: LogSink | undefined): Promise<BackendChoice | undefined> {
  switch (candidate) {
    case 'tensorflow-gpu':
    case 'tensorflow':
      return tryNative(candidate, logger);
    case 'wasm':
      return tryWasm(logger);
    case 'cpu':
      if (!(await tf.setBackend('cpu'))) return undefined;
      await tf.ready();
      return { name: 'cpu', candidate: 'cpu', simd: false, threads: false };
  }
}

async function tryNative(candidate: 'tensorflow-gpu' | 'tensorflow', logger: LogSink | undefined): Promise<BackendChoice | undefined> {
  const pkg = NATIVE_PACKAGE[candidate];
  try {
    // A non-literal specifier keeps TypeScript from requiring the optional package's types.
    const specifier: string = pkg;
    await import(specifier);
  } catch (err) {
    if (isModuleNotFound(err)) logger?.debug({ pkg }, 'optional native backend not installed');
    else logger?.warn({ pkg, err }, 'native backend installed but failed to load (missing libtensorflow or CUDA?); falling back');
    return undefined;
  }
  if (!(await tf.setBackend('tensorflow'))) return undefined;
  await tf.ready();
  return { name: 'tensorflow', candidate, simd: true, threads: true };
}

async function tryWasm(logger: LogSink | undefined): Promise<BackendChoice | undefined> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // The .wasm binaries ship in the package's dist folder; pointing tfjs at them as a local
    // path keeps it from fetching them from a CDN (there is no network in production pods).
    const require = createRequire(import.meta.url);
    const distDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    wasm.setWasmPaths(distDir + path.sep);
    if (!(await tf.setBackend('wasm'))) return undefined;
    await tf.ready();
    const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
    // tfjs 4.22 reports no multithread support in Node (its check needs a cross-origin-isolated
    // page), so the single-threaded binary runs; reported as measured, not assumed.
    const threads = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true;
    logger?.debug({ distDir: pathToFileURL(distDir).href }, 'wasm binaries loaded from disk');
    return { name: 'wasm', candidate: 'wasm', simd, threads };
  } catch (err) {
    logger?.warn({ err }, 'wasm backend failed to start; falling back');
    return undefined;
  }
}

function isModuleNotFound(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}
