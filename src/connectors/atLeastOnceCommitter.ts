import type { DeadLetter } from '../domain/deadLetter.js';
import type { Forecast } from '../domain/forecast.js';
import type { EncodedState } from '../state/seriesStateStore.js';
import type { Checkpoint, Committer, SealedOutputs } from './committer.js';
import type { Sink } from './sink.js';
import type { Source } from './source.js';

const NOTHING_HELD: SealedOutputs = { partitions: new Set() };

/** Where an at-least-once pipeline's outputs go (Kafka: sinks of idempotent producers, src/connectors/kafka/kafkaDelivery.ts). */
export interface AtLeastOnceSinks {
  readonly forecasts: Sink<Forecast>;
  readonly deadLetters: Sink<DeadLetter>;
  /** The state changelog. */
  readonly state: Sink<EncodedState>;
}

/**
 * At-least-once: forecasts are sent as soon as they are made (their latency is one round trip,
 * not a checkpoint interval); a commit then makes, in this order, the forecasts and its dead
 * letters acknowledged, its state written and acknowledged, and only then the input offsets
 * committed. An offset is thus never committed ahead of an output or state derived from the input
 * before it: a crash replays from the last committed offsets, so outputs may repeat, never go missing.
 */
export class AtLeastOnceCommitter implements Committer {
  readonly held = 0;

  constructor(private readonly opts: { readonly sinks: AtLeastOnceSinks; readonly offsets: Pick<Source, 'commit'> }) {}

  async write(forecasts: readonly Forecast[]): Promise<void> {
    const { forecasts: sink } = this.opts.sinks;
    await sink.write(forecasts);
    await sink.flush();
  }

  seal(): SealedOutputs {
    return NOTHING_HELD;
  }

  async commit({ parts }: Checkpoint): Promise<readonly number[]> {
    const { sinks, offsets } = this.opts;
    const letters = parts.flatMap((p) => p.deadLetters);
    if (letters.length > 0) await sinks.deadLetters.write(letters);
    await sinks.forecasts.flush();
    await sinks.deadLetters.flush();
    const state = parts.flatMap((p) => p.state);
    if (state.length > 0) {
      await sinks.state.write(state);
      await sinks.state.flush();
    }
    const positions = parts.flatMap((p) => (p.position !== undefined && p.advances ? [p.position] : []));
    if (positions.length > 0) await offsets.commit(positions);
    return [];
  }

  async acquire(): Promise<void> {}

  async release(): Promise<void> {}
}
