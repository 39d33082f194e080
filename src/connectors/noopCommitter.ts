import type { DeadLetter } from '../domain/deadLetter.js';
import type { Forecast } from '../domain/forecast.js';
import type { Checkpoint, Committer, SealedOutputs } from './committer.js';
import type { Sink } from './sink.js';
import type { Source } from './source.js';

const NOTHING_HELD: SealedOutputs = { partitions: new Set() };

/**
 * The committer that guarantees nothing, for runs with no checkpointed state and no input to
 * acknowledge: file replays, backtests, training replays and the demo. Forecasts go to their sink
 * as they are made and dead letters with each checkpoint; positions only tell the source how far
 * the work got (a file source shows it as progress). Nothing is flushed before the run's last
 * checkpoint: there is nothing to resume from after a crash, and a flush per batch would cost a
 * write per batch. The sinks stay open: whoever made them closes them.
 */
export class NoopCommitter implements Committer {
  readonly held = 0;

  constructor(private readonly opts: { readonly forecasts: Sink<Forecast>; readonly deadLetters: Sink<DeadLetter>; readonly source: Pick<Source, 'commit'> }) {}

  write(forecasts: readonly Forecast[]): Promise<void> {
    return this.opts.forecasts.write(forecasts);
  }

  seal(): SealedOutputs {
    return NOTHING_HELD;
  }

  async commit({ parts, final }: Checkpoint): Promise<readonly number[]> {
    const { forecasts, deadLetters, source } = this.opts;
    const letters = parts.flatMap((p) => p.deadLetters);
    if (letters.length > 0) await deadLetters.write(letters);
    if (final) {
      await forecasts.flush();
      await deadLetters.flush();
    }
    const positions = parts.flatMap((p) => (p.position !== undefined && p.advances ? [p.position] : []));
    if (positions.length > 0) await source.commit(positions);
    return [];
  }

  async acquire(): Promise<void> {}

  async release(): Promise<void> {}
}
