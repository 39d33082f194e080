import { type FaultOptions, hasFaults, parseHole, parseJitter } from '../connectors/replay/faults.js';

export interface FaultFlags {
  drop?: number;
  /** One `--hole`, or several (the flag repeated). */
  hole?: string | readonly string[];
  jitter?: string;
  seed?: number;
}

/** Turns `--drop/--hole/--jitter/--seed` into replay fault options (none when nothing is damaged). */
export function faultsFromFlags(flags: FaultFlags): { faults?: FaultOptions } {
  const faults: FaultOptions = {
    ...(flags.drop !== undefined ? { drop: flags.drop } : {}),
    ...(flags.hole !== undefined ? { holes: (typeof flags.hole === 'string' ? [flags.hole] : flags.hole).map(parseHole) } : {}),
    ...(flags.jitter !== undefined ? { jitterMs: parseJitter(flags.jitter) } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
  };
  return hasFaults(faults) ? { faults } : {};
}
