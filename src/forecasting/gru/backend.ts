import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { BackendRequest } from '../../config/backendConfig.js';
import { ConfigError } from '../../domain/errors.js';
import type { LogSink } from '../../observability/logger.js';

/** Compute backends in the order DESIGN.md prefers them. */
export const BACKEND_CANDIDATES = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendCandidate = (typeof BACKEND_CANDIDATES)[number];

// What a user may ask for is configuration, parsed in config/; selectBackend takes it as it is.
export { BACKEND_REQUESTS, type BackendRequest } from '../../config/backendConfig.js';

/** Serving steps micro-batches on the main thread; training runs in the trainer worker. */
export type BackendRole = 'serve' | 'train';

export interface BackendChoice {
  /** tfjs backend name: both native packages register as `tensorflow`. */
  readonly name: 'tensorflow' | 'wasm' | 'cpu';
  /** The candidate that won (tells tfjs-node-gpu from tfjs-node). */
  readonly candidate: BackendCandidate;
  readonly simd: boolean;
  readonly threads: boolean;
}

export interface SelectBackendOptions {
  /**
   * What was asked for: `auto` (default) tries the role's order (see backendPlan); a named backend
   * is the only candidate, and its absence is a ConfigError that says how to install it.
   */
  readonly request?: BackendRequest;
  /** Default `serve`. */
  readonly role?: BackendRole;
  /** Candidates to try, in order, instead of `request`'s (`cpu` is always the last resort). */
  readonly prefer?: readonly string[];
  readonly logger?: LogSink;
}

const NATIVE_PACKAGE: Record<'tensorflow-gpu' | 'tensorflow', string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

/** The command that installs a native backend (deploy/native/install.sh). */
export function nativeInstallHint(candidate: 'tensorflow-gpu' | 'tensorflow'): string {
  return candidate === 'tensorflow'
    ? 'run `npm run native:install` (builds @tensorflow/tfjs-node from registry artifacts)'
    : 'run `npm run native:install -- --gpu` on a host with an NVIDIA driver (see README, "Backends and GPU")';
}

/**
 * The candidates a request tries, in order, and whether failing them all is an error. `auto`
 * serves on wasm: the serving step is the project's own kernel (a JS loop for small batches, tf
 * ops for large ones), which on CPU ran as fast on wasm as on tfjs-node up to 1,024 series a
 * batch (`npm run bench -- train`), and it keeps libtensorflow out of the serving thread (a
 * named `--backend tensorflow` serves on it, e.g. for very large batches). `auto` trains on the native
 * backend where installed (`npm run bench -- train`): tfjs-node-gpu first when the host has an
 * NVIDIA GPU (`gpu`; without one it would only run on CPU), then tfjs-node.
 */
export function backendPlan(request: BackendRequest, role: BackendRole, gpu = nvidiaGpuPresent()): { readonly prefer: readonly BackendCandidate[]; readonly strict: boolean } {
  if (request !== 'auto') return { prefer: [request], strict: true };
  if (role === 'serve') return { prefer: ['wasm', 'cpu'], strict: false };
  return { prefer: [...(gpu ? (['tensorflow-gpu'] as const) : []), 'tensorflow', 'wasm', 'cpu'], strict: false };
}

/** Whether the NVIDIA driver reports a GPU (what a CUDA build of libtensorflow needs to use one). */
export function nvidiaGpuPresent(): boolean {
  const dir = '/proc/driver/nvidia/gpus';
  return existsSync(dir) && readdirSync(dir).length > 0;
}

// tfjs' engine is process-global, so the choice is too: the first call decides and every later
// call (from any module) gets the same answer instead of switching backends under live tensors.
let selected: Promise<BackendChoice> | undefined;

/**
 * Picks and activates the tfjs backend of this thread, as `request` and `role` say (backendPlan).
 * The native packages are optional and built by `npm run native:install`, so under `auto` their
 * absence is the normal case and is logged at debug level only; a named backend that cannot start
 * is a ConfigError with the fix. Idempotent: later calls without a request return the first
 * call's choice; a later call that names another backend is an error (the engine is one per
 * thread). Await it before creating any tensor, or tfjs initializes its `cpu` backend on its own,
 * which is ~50× slower than wasm.
 */
export async function selectBackend(opts: SelectBackendOptions = {}): Promise<BackendChoice> {
  const request = opts.request ?? 'auto';
  const plan = opts.prefer !== undefined ? { prefer: validatePrefer(opts.prefer), strict: false } : backendPlan(request, opts.role ?? 'serve');
  const first = selected === undefined;
  selected ??= doSelect(plan.prefer, plan.strict, opts.logger);
  const choice = await selected;
  if (!first && request !== 'auto' && choice.candidate !== request) {
    throw new ConfigError(`compute backend "${request}" requested, but this thread already runs on "${choice.candidate}"; ask for one backend per process role (--backend, --train-backend)`);
  }
  return choice;
}

/**
 * Switches this thread's backend to `candidate` now, whatever was chosen before: for tests and
 * benchmarks that compare backends in one process. Production picks once, with selectBackend.
 * Throws a ConfigError (with the install command) when the backend cannot start.
 */
export async function switchBackend(candidate: BackendCandidate, logger?: LogSink): Promise<BackendChoice> {
  const choice = await tryCandidate(candidate, logger);
  if (choice === undefined) throw unavailable(candidate);
  selected = Promise.resolve(choice);
  return choice;
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

async function doSelect(prefer: readonly BackendCandidate[], strict: boolean, logger: LogSink | undefined): Promise<BackendChoice> {
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
  if (strict && prefer.length === 1) throw unavailable(prefer[0]!);
  // Reached only when `prefer` left cpu out and nothing else worked: cpu is always there.
  const choice = (await tryCandidate('cpu', logger))!;
  logger?.warn({ backend: 'cpu' }, 'compute backend selected: cpu (slow; no preferred backend could start)');
  return choice;
}

function unavailable(candidate: BackendCandidate): ConfigError {
  if (candidate === 'tensorflow' || candidate === 'tensorflow-gpu') {
    return new ConfigError(`compute backend "${candidate}" is not available: ${NATIVE_PACKAGE[candidate]} is not installed or does not load; ${nativeInstallHint(candidate)}, or use --backend auto`);
  }
  return new ConfigError(`compute backend "${candidate}" could not start; use --backend auto`);
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
  const failure = await importNative(candidate, logger);
  if (failure !== undefined) return undefined;
  if (!(await tf.setBackend('tensorflow'))) return undefined;
  await tf.ready();
  return { name: 'tensorflow', candidate, simd: true, threads: true };
}

/** Imports a native package (which registers the `tensorflow` backend); undefined when it loaded, else why not. */
async function importNative(candidate: 'tensorflow-gpu' | 'tensorflow', logger: LogSink | undefined): Promise<unknown> {
  const pkg = NATIVE_PACKAGE[candidate];
  try {
    // A non-literal specifier keeps TypeScript from requiring the optional package's types.
    const specifier: string = pkg;
    await import(specifier);
    return undefined;
  } catch (err) {
    if (isModuleNotFound(err)) logger?.debug({ pkg }, `optional native backend not installed (${nativeInstallHint(candidate)})`);
    else logger?.warn({ pkg, err }, 'native backend installed but failed to load (missing libtensorflow or CUDA?); falling back');
    return err ?? new Error('import failed');
  }
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
