import type { KafkaConfig } from '../config/kafkaConfig.js';
import { readChangelog } from '../connectors/kafka/changelogReader.js';
import { createKafka } from '../connectors/kafka/kafkaClient.js';
import { changelogTopic } from '../connectors/kafka/topics.js';
import { isStreamcastError, StreamcastError } from '../domain/errors.js';
import { decodeRuntimeSnapshot } from '../forecasting/modelRuntimeSnapshot.js';
import type { LogSink } from '../observability/logger.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';
import { SeriesHistory } from '../state/seriesHistory.js';
import type { SeriesWindow } from '../state/seriesWindow.js';
import { decodeSeriesState } from '../state/stateCodec.js';
import type { PeerWindows, PeerWindowsRequest } from '../training/peerWindows.js';
import { PeerSample } from './peerSample.js';

/**
 * Reads the changelog partitions `select` picks, from their beginning, committed data only, each
 * record in offset order per partition (value null: a tombstone); resolves with the record count.
 */
export type ChangelogRead = (
  select: (partition: number) => boolean,
  onRecord: (series: string, value: Uint8Array | null, partition: number) => void,
  signal: AbortSignal,
) => Promise<number>;

export interface PeerHistoryOptions {
  readonly spec: PipelineSpec;
  readonly read: ChangelogRead;
  /** Whether this instance owns (input and changelog) partition `p`: its series are in its own history. */
  readonly owns: (partition: number) => boolean;
  /** Peer series a retrain takes at most (a deterministic sample by series id); default DEFAULT_PEER_SERIES. */
  readonly maxSeries?: number;
  /** A read that takes longer is given up (the retrain goes on without it); default 30 s. */
  readonly timeoutMs?: number;
  readonly logger: LogSink;
}

/**
 * Peer series a retrain takes at most by default: bounds the read's memory (2× this many frames)
 * and the windows added (each a history tail of model.context plus a season, ~25 bytes a step
 * decoded) whatever the number of series the other instances hold.
 */
export const DEFAULT_PEER_SERIES = 2000;
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * The series the other instances of a pipeline hold, as training windows for this instance's
 * retrainer (Retrainer `peerWindows`): one model learns across all series, not only the trainer's
 * partitions. Every series' state, its history tail included, is in the compacted state
 * changelog; a read takes the partitions this instance does not own (committed data: what the
 * owners checkpointed), keeps the newest record per series (a tombstone drops it) for a bounded
 * sample of series (peerSample.ts), and decodes only each one's history into a scratch
 * SeriesHistory of the serving history's step and capacity, never touching the live state store,
 * registry or history. A frame written under another window.step, or without the spec shape of
 * current builds, is skipped, not misread (its steps lie on another grid); one that does not
 * decode is skipped too.
 *
 * What a peer series contributes is its snapshot tail (model.context + the residual base's lag +
 * 1 steps, ModelRuntime.snapshot), not its owner's whole training history: the changelog carries
 * only that, so the trainer sees every series, but most deeply its own.
 */
export class PeerHistory {
  readonly #opts: PeerHistoryOptions;

  constructor(opts: PeerHistoryOptions) {
    this.#opts = opts;
  }

  /** A reader of the pipeline's state changelog on Kafka (its own throw-away consumer group per read). */
  static kafka(opts: Omit<PeerHistoryOptions, 'read'> & { readonly cfg: KafkaConfig }): PeerHistory {
    const { cfg, spec, logger } = opts;
    const kafka = createKafka(cfg, logger, { clientIdSuffix: 'peers' });
    const topic = changelogTopic(spec);
    const read: ChangelogRead = (select, onRecord, signal) =>
      // A read stalled for 10 s is given up: a retrain does not wait a minute for a broker that is away.
      readChangelog({ kafka, topic, partitions: select, groupPrefix: `${cfg.groupId}.peers`, onRecord, logger, stallMs: 10_000, signal });
    return new PeerHistory({ ...opts, read });
  }

  /** The peer windows of one retrain (the Retrainer's PeerWindowSource); rejects when the read fails or times out. */
  async windows(request: PeerWindowsRequest): Promise<PeerWindows> {
    const { spec, owns, read, logger } = this.#opts;
    const max = this.#opts.maxSeries ?? DEFAULT_PEER_SERIES;
    const timeoutMs = this.#opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const t0 = performance.now();
    const sample = new PeerSample<Uint8Array>(max);
    const stopRead = new AbortController();
    let open = true;
    const partitions = new Set<number>();
    const stop = (): void => stopRead.abort(request.signal.reason);
    request.signal.addEventListener('abort', stop, { once: true });
    const timer = setTimeout(() => stopRead.abort(new StreamcastError('retriable', `reading the other instances' state took over ${timeoutMs / 1000} s`)), timeoutMs);
    timer.unref();
    let records: number;
    try {
      if (request.signal.aborted) throw request.signal.reason;
      const reading = read(
        (p) => !owns(p),
        (series, value, partition) => {
          if (!open) return; // delivered after the read was given up
          partitions.add(partition);
          // A copy: the fetch buffer a value is a view of is large and reused.
          sample.offer(series, value === null ? null : Uint8Array.prototype.slice.call(value));
        },
        stopRead.signal,
      );
      const stopped = new Promise<never>((_, reject) => {
        const fail = (): void => reject(stopRead.signal.reason);
        if (stopRead.signal.aborted) fail();
        stopRead.signal.addEventListener('abort', fail, { once: true });
      });
      stopped.catch(() => undefined);
      reading.catch(() => undefined);
      // Also when the read is stuck connecting (which the signal does not stop).
      records = await Promise.race([reading, stopped]);
    } finally {
      open = false;
      clearTimeout(timer);
      request.signal.removeEventListener('abort', stop);
      stopRead.abort(); // a read still connecting stops once it can
    }
    const taken = sample.take();
    const scratch = new SeriesHistory({ stepMs: spec.window.step, capacity: request.capacity });
    const windows: SeriesWindow[] = [];
    let series = 0;
    const skipped = { otherStep: 0, unreadable: 0, noHistory: 0 };
    for (const { series: id, value } of taken) {
      const history = historyOf(value, spec.window.step, id);
      if (typeof history === 'string') {
        skipped[history]++;
        continue;
      }
      try {
        scratch.restore(id, history);
      } catch (err) {
        if (!isStreamcastError(err)) throw err;
        skipped.unreadable++;
        continue;
      }
      const segments = scratch.segmentsOf(id).filter((w) => w.length >= 2);
      scratch.drop(id);
      if (segments.length === 0) {
        skipped.noHistory++;
        continue;
      }
      series++;
      for (const w of segments) windows.push(w);
    }
    const steps = windows.reduce((n, w) => n + w.length, 0);
    const skippedCount = skipped.otherStep + skipped.unreadable;
    logger.info(
      { partitions: [...partitions].sort((a, b) => a - b), records, series, steps, sampledOut: sample.leftOut, maxSeries: max, ...skipped, ms: Math.round(performance.now() - t0) },
      `read ${series} series (${steps} steps) of the other instances' partitions for training` +
        (sample.leftOut > 0 ? ` (a sample: at most ${max} series)` : '') +
        (skippedCount > 0 ? `; skipped ${skipped.otherStep} written under another window.step (or by an earlier build), ${skipped.unreadable} unreadable` : ''),
    );
    return { windows, series, sampledOut: sample.leftOut, skipped: skippedCount };
  }
}

/** The history part of a state frame, or why there is none to use. */
function historyOf(frame: Uint8Array, stepMs: number, series: string): Uint8Array | 'otherStep' | 'unreadable' | 'noHistory' {
  try {
    const state = decodeSeriesState(frame);
    // No shape (a frame of an earlier build): its grid cannot be checked, so it is not used.
    if (state.shape === undefined || state.shape.step !== stepMs) return 'otherStep';
    if (state.forecaster === undefined) return 'noHistory';
    return decodeRuntimeSnapshot(state.forecaster, series).history ?? 'noHistory';
  } catch (err) {
    if (!isStreamcastError(err)) throw err;
    return 'unreadable';
  }
}
