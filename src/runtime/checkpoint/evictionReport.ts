import type { EventListener } from '../../observability/events.js';
import type { LogSink } from '../../observability/logger.js';
import type { SeriesStateStore } from '../../state/seriesStateStore.js';

/** Evictions are logged in aggregate, at most this often. */
const EVICTION_LOG_EVERY_MS = 60_000;

/**
 * Series the state store evicted (state.maxSeries) or expired (state.ttl), reported at every
 * checkpoint as metrics, and in the log in aggregate (at most once a minute, never a line per
 * series: churn can evict thousands a second).
 */
export class EvictionReport {
  private sinceLog = { ttl: 0, max_series: 0 };
  private lastLog = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: { readonly store: SeriesStateStore; readonly events: EventListener; readonly logger: LogSink }) {}

  report(now: number): void {
    const { store, events, logger } = this.opts;
    const counts = store.takeEvictions();
    for (const reason of ['ttl', 'max_series'] as const) {
      const n = counts[reason];
      if (n === 0) continue;
      events({ type: 'series_evicted', reason, count: n });
      this.sinceLog[reason] += n;
    }
    const { ttl, max_series: max } = this.sinceLog;
    if (ttl + max === 0 || now - this.lastLog < EVICTION_LOG_EVERY_MS) return;
    this.lastLog = now;
    this.sinceLog = { ttl: 0, max_series: 0 };
    const { maxSeries, ttlMs } = store.bounds;
    logger.info(
      { expired: ttl, evicted: max, series: store.size, maxSeries, ttlMs },
      `dropped the state of ${ttl + max} series (${ttl} expired by state.ttl, ${max} least recently seen evicted by state.maxSeries); tombstoned in the state changelog`,
    );
  }
}
