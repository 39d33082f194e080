import { ConfigError } from '../domain/errors.js';

/** What a user may ask for (`--backend`, `--train-backend`, STREAMCAST_BACKEND, STREAMCAST_TRAIN_BACKEND). */
export const BACKEND_REQUESTS = ['auto', 'wasm', 'tensorflow', 'tensorflow-gpu'] as const;
export type BackendRequest = (typeof BACKEND_REQUESTS)[number];

/** The compute backends asked for: serving (main thread) and training (trainer worker). */
export interface BackendConfig {
  readonly serve: BackendRequest;
  readonly train: BackendRequest;
}

export interface BackendFlags {
  /** `--backend` */
  readonly backend?: string | undefined;
  /** `--train-backend` */
  readonly trainBackend?: string | undefined;
}

/**
 * Parses the backend choice once, into a frozen value that is passed in (no module reads the
 * environment on its own): serving from `--backend`, else STREAMCAST_BACKEND,
 * else `auto`; training from `--train-backend`, else STREAMCAST_TRAIN_BACKEND, else the serving
 * choice when that names one (so `--backend wasm` means wasm throughout), else `auto`. A process
 * loads at most one libtensorflow, so serving and training cannot name two different native
 * backends, and `auto` training follows a native serving backend. Bad values are ConfigErrors.
 */
export function backendConfigFrom(env: Readonly<Record<string, string | undefined>>, flags: BackendFlags = {}): BackendConfig {
  const serve = parse(flags.backend, '--backend') ?? parse(env['STREAMCAST_BACKEND'], 'STREAMCAST_BACKEND') ?? 'auto';
  let train = parse(flags.trainBackend, '--train-backend') ?? parse(env['STREAMCAST_TRAIN_BACKEND'], 'STREAMCAST_TRAIN_BACKEND') ?? serve;
  const native = (b: BackendRequest): boolean => b === 'tensorflow' || b === 'tensorflow-gpu';
  if (native(serve) && train === 'auto') train = serve;
  if (native(serve) && native(train) && serve !== train) {
    throw new ConfigError(`serving on "${serve}" and training on "${train}" would load two libtensorflow builds into one process; use the same native backend for both, or serve on wasm (--backend auto)`);
  }
  return Object.freeze({ serve, train });
}

function parse(value: string | undefined, source: string): BackendRequest | undefined {
  if (value === undefined || value === '') return undefined;
  if ((BACKEND_REQUESTS as readonly string[]).includes(value)) return value as BackendRequest;
  throw new ConfigError(`${source} "${value}" is not a compute backend; use one of ${BACKEND_REQUESTS.join(', ')}`);
}
