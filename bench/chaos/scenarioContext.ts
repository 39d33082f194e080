import type { ChaosConfig } from './chaosConfig.js';
import type { OwnBroker } from '../../test/helpers/ownBroker.js';
import type { Progress } from './progress.js';

/** What every scenario gets: the repository root, the benchmark's own broker, its config, progress and seeded randomness. */
export interface ScenarioContext {
  readonly root: string;
  readonly broker: OwnBroker;
  readonly cfg: ChaosConfig;
  readonly progress: Progress;
  /** Uniform in [0, 1), seeded (BENCH_CHAOS_SEED). */
  readonly random: () => number;
}
