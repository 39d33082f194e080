import { type FaultOptions, hasFaults, parseHole } from '../connectors/replay/faults.js';

export interface FaultFlags {
  drop?: number;
  hole?: string;
  seed?: number;
}

/** Turns `--drop/--hole/--seed` into replay fault options (none when nothing is damaged). */
export function faultsFromFlags(flags: FaultFlags): { faults?: FaultOptions } {
  const faults: FaultOptions = {
    ...(flags.drop !== undefined ? { drop: flags.drop } : {}),
    ...(flags.hole !== undefined ? { hole: parseHole(flags.hole) } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
  };
  return hasFaults(faults) ? { faults } : {};
}
