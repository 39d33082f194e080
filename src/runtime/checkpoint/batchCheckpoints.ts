import type { Committer } from '../../connectors/committer.js';
import type { Ingested } from '../../domain/ingested.js';
import type { Position } from '../../domain/position.js';
import type { DeadLetter } from '../../domain/deadLetter.js';
import type { Forecast } from '../../domain/forecast.js';
import type { PipelineContext, StepBatch } from '../../pipeline/build.js';
import { checkpointParts, PendingDeadLetters } from './checkpointParts.js';
import type { Checkpoints } from './checkpoints.js';
import { InputPositions } from './inputPositions.js';

const ALWAYS = (): boolean => true;
const NO_STATE: readonly never[] = [];

/**
 * Checkpoints of a run without checkpointed state (file replay, backtest, the demo): every batch is
 * its own checkpoint, committed once the batch is stepped, before the next one: its forecasts,
 * the dead letters raised so far and the positions read when it formed. No barrier is needed:
 * with no state to capture, any point between batches is a consistent cut.
 */
export class BatchCheckpoints implements Checkpoints {
  private readonly positions = new InputPositions();
  private readonly pending = new PendingDeadLetters();
  private readonly cuts = new WeakMap<StepBatch, ReadonlyMap<number, Position>>();
  private finished?: Promise<void>;

  constructor(private readonly committer: Committer) {}

  get context(): Pick<PipelineContext, 'onBatchFormed'> {
    return { onBatchFormed: (batch) => this.cuts.set(batch, this.positions.cut()) };
  }

  record(rec: Ingested): void {
    this.positions.advance(rec.position);
  }

  deadLetters(letters: readonly DeadLetter[]): void {
    this.pending.add(letters);
  }

  async afterStep(batch: StepBatch, forecasts: readonly Forecast[]): Promise<void> {
    const written = forecasts.length > 0 ? this.committer.write(forecasts, () => 0) : undefined;
    await this.commit(this.cuts.get(batch) ?? this.positions.cut(), false);
    await written;
  }

  onFailure(): void {
    // Nothing runs in the background: a failed commit fails afterStep.
  }

  finish(): Promise<void> {
    this.finished ??= this.commit(this.positions.cut(), true);
    return this.finished;
  }

  private async commit(cut: ReadonlyMap<number, Position>, final: boolean): Promise<void> {
    const outputs = this.committer.seal();
    const parts = checkpointParts({ positions: cut, deadLetters: this.pending.take(), state: NO_STATE, outputs: outputs.partitions }, this.positions, ALWAYS);
    if (parts.length === 0 && outputs.partitions.size === 0 && !final) return;
    const lost = await this.committer.commit({ outputs, parts, final });
    this.positions.commitDone(
      parts.map((p) => p.position),
      lost,
    );
  }
}
