import type { ReplayInput } from '../app/replayRun.js';
import type { BackendFlags } from '../config/backendConfig.js';
import type { LogFlags } from './cliLogger.js';
import { faultsFromFlags, type FaultFlags } from './faultFlags.js';
import { requireInputFiles } from './options.js';

/** The flags of the commands that replay a file through a pipeline (replay, backtest). */
export interface ReplayFlags extends FaultFlags, BackendFlags, LogFlags {
  input?: string[];
  out?: string;
  deadLetters?: string;
  speed?: number;
  rate?: number;
  limit?: number;
  series?: string[];
  /** InfluxDB 1.x history, e.g. http://127.0.0.1:8086/streamcast. */
  influx?: string;
  /** Models folder to load `current` from (replay: default `models`). */
  model?: string;
  /** Retrain as the spec's `retrain` section says (blocking: deterministic). */
  retrain?: boolean;
}

/** What to replay: every `--input` must be a file (ConfigError, exit 2, naming the missing one), then the fault flags are parsed. */
export function replayInputFrom(flags: ReplayFlags): ReplayInput {
  const paths = requireInputFiles(flags.input);
  return { paths, speed: flags.speed, rate: flags.rate, limit: flags.limit, series: flags.series, ...faultsFromFlags(flags) };
}
