import type { PipelineEvent } from '../observability/events.js';

/** What /healthz answers for one pipeline. */
export interface Liveness {
  readonly live: boolean;
  /** Why not, for the 503 body and the log. */
  readonly reason?: string;
}

export interface StallDetectorOptions {
  /** No record processed for this long while records wait: stalled (KAFKA_STALL_TIMEOUT_MS). */
  readonly timeoutMs: number;
  /** Wall clock (injected; tests drive it). */
  readonly now: () => number;
}

/**
 * Liveness of a consumer: stalled when records are waiting in its partitions (consumer lag > 0)
 * and none has been taken into the pipeline for `timeoutMs`, measured from the later of the last
 * progress and the moment the backlog appeared (an input quiet for an hour is not a stall the
 * moment a record arrives). Only while the consumer is `active` (in the group, partitions
 * restored): during a broker outage or a rebalance lag is unknown and readiness says why, and
 * restarting the process would not help.
 *
 * Fed the pipeline's own events (records_in is progress, consumer_lag the backlog); progress is
 * counted, and only `check` reads the clock, so the per-record cost is an addition.
 */
export class StallDetector {
  private processed = 0;
  private seen = -1;
  private lastProgressAt: number;
  private backlogSince: number | undefined;
  private readonly lag = new Map<number, number>();

  constructor(private readonly opts: StallDetectorOptions) {
    this.lastProgressAt = opts.now();
  }

  observe(e: PipelineEvent): void {
    switch (e.type) {
      case 'records_in':
        this.processed += e.count;
        return;
      case 'consumer_lag':
        this.lag.set(e.partition, e.lag);
        return;
      case 'partitions_revoked':
        for (const p of e.partitions) this.lag.delete(p);
        return;
      default:
        return;
    }
  }

  /** Called at least every few seconds (the readiness poll) and on every /healthz. */
  check(active: boolean): Liveness {
    const t = this.opts.now();
    if (this.processed !== this.seen) {
      this.seen = this.processed;
      this.lastProgressAt = t;
    }
    let backlog = 0;
    for (const n of this.lag.values()) backlog += n;
    if (!active || backlog === 0) {
      this.backlogSince = undefined;
      return { live: true };
    }
    this.backlogSince ??= t;
    const idleMs = t - Math.max(this.lastProgressAt, this.backlogSince);
    if (idleMs < this.opts.timeoutMs) return { live: true };
    return {
      live: false,
      reason: `no record processed for ${Math.round(idleMs / 1000)} s while ${backlog} wait in the assigned partitions (stall timeout ${this.opts.timeoutMs} ms)`,
    };
  }
}
