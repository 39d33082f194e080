import type { DeadLetter } from '../domain/deadLetter.js';
import type { Forecast } from '../domain/forecast.js';
import type { SeriesId } from '../domain/point.js';
import type { EncodedState } from '../state/seriesStateStore.js';
import type { Position } from '../domain/position.js';

/** The delivery guarantees a pipeline spec can ask for (`guarantee:`). */
export type Guarantee = 'at-least-once' | 'exactly-once';

/** What one input partition contributes to a checkpoint, besides the forecasts already written. */
export interface PartitionCheckpoint {
  readonly partition: number;
  readonly deadLetters: readonly DeadLetter[];
  /** Changed series' state (a null value: a tombstone), for the changelog partition of `partition`. */
  readonly state: readonly EncodedState[];
  /** Next input offset to read; undefined when this instance has read and committed nothing of the partition. */
  readonly position: Position | undefined;
  /**
   * Whether `position` moves the partition past its last commit. False for a part with only state
   * or outputs: its position is the committed one again, which exactly-once still sends (every
   * transaction carries the offset commit that tells whether it landed) and at-least-once skips.
   */
  readonly advances: boolean;
}

/** The forecasts a `seal` closed, handed back to `commit` with the rest of their checkpoint. */
export interface SealedOutputs {
  /** Partitions with forecasts in it: each needs a part in that commit, even without state or a new position. */
  readonly partitions: ReadonlySet<number>;
}

/** One checkpoint: forecasts, then per partition dead letters, state changes and the input position they cover. */
export interface Checkpoint {
  readonly outputs: SealedOutputs;
  readonly parts: readonly PartitionCheckpoint[];
  /** The run's last checkpoint: whatever was written must be durable once it resolves. */
  readonly final: boolean;
}

/**
 * Makes a pipeline's outputs, state and input positions durable, in that order, per one delivery
 * guarantee. The runtime decides *when* (src/runtime/checkpoint/); an implementation decides *how*:
 * - at-least-once (atLeastOnceCommitter.ts): outputs go out as they are made; a commit flushes
 *   them, writes and flushes the state, then commits the input offsets. A crash replays from the
 *   last committed offsets, so outputs may repeat, never go missing.
 * - exactly-once (kafka/exactlyOnceCommitter.ts): a commit is one Kafka transaction per input
 *   partition holding its outputs, its state changes and its input offset, or none of them.
 * - none (noopCommitter.ts): file replays, backtests and the demo; nothing to acknowledge.
 *
 * The calls of one run: `write` as each batch is forecast; at each checkpoint's cut `seal` (what
 * was written so far belongs to it), then, once its state is encoded, `commit` with what `seal`
 * returned; one commit at a time, in the order of their seals.
 */
export interface Committer {
  /**
   * One batch's forecasts, as soon as they are made. Resolves once they are as durable as the
   * guarantee makes them (at-least-once: acknowledged; exactly-once: their transaction committed;
   * none: handed to the sink), which is what the event-to-forecast latency measures.
   */
  write(forecasts: readonly Forecast[], partitionOf: (series: SeriesId) => number): Promise<void>;
  /** Forecasts written since the last `seal` that wait for a commit to leave (a bound on them cuts a checkpoint early). */
  readonly held: number;
  /** Closes the outputs of the checkpoint being cut: everything written so far goes with it, later writes with the next. */
  seal(): SealedOutputs;
  /** Returns the partitions found to belong to another instance now (fenced); their parts were not written. */
  commit(checkpoint: Checkpoint): Promise<readonly number[]>;
  /** Partition `p` is ours from now on: resolves once its previous owner can no longer commit (exactly-once: fenced). */
  acquire(partition: number): Promise<void>;
  /** Partition `p` is not ours any more: what it holds for it and has not committed is dropped. */
  release(partition: number): Promise<void>;
}
