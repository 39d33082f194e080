import type { Point } from '../domain/point.js';
import type { Ingested } from '../domain/ingested.js';
import type { Position } from '../domain/position.js';

interface Held {
  readonly points: readonly Point[];
  readonly position: Position;
}

/**
 * Commit positions that never run ahead of the forecasts: per input partition, the position just
 * before the oldest record that still has a point in an open window (not yet forecast), or the
 * newest position read when none has. Used where no state changelog holds the open windows
 * (at-least-once without state): after a crash, re-reading from such a position rebuilds every
 * step that was not forecast yet, at the price of some duplicate forecasts.
 *
 * A point counts as done once a forecast was made at or after its step for its series, or once
 * the pipeline rejected it (late, unconfirmed future timestamp: it went to the dead letters).
 * Records are checked front to back per partition, so the cost per batch is the number of
 * records that became done, plus one.
 */
export class ProcessedPositions {
  private readonly queues = new Map<string, Held[]>();
  private readonly latest = new Map<string, Position>();
  private readonly forecastUpTo = new Map<string, number>();
  private readonly rejected = new WeakSet<Point>();
  /** Series re-based whose first step since has not been forecast yet. */
  private readonly rebasing = new Set<string>();

  constructor(private readonly stepMs: number) {}

  /** A record entered the pipeline. */
  admit(rec: Ingested): void {
    const key = `${rec.position.topic}\u0000${rec.position.partition}`;
    this.latest.set(key, rec.position);
    if (rec.points.length === 0) {
      const q = this.queues.get(key);
      // Nothing of it can be pending; it only needs holding if something before it is.
      if (q === undefined || q.length === 0) return;
    }
    let q = this.queues.get(key);
    if (q === undefined) this.queues.set(key, (q = []));
    q.push({ points: rec.points, position: rec.position });
  }

  /** The pipeline routed this point to the dead letters. */
  reject(point: Point): void {
    this.rejected.add(point);
  }

  /**
   * The series was re-based off a skewed clock. Forecasts on that clock cover none of its new
   * points, so they stop counting until its first step after the re-base (flagged `reset`); its
   * points from the skewed clock (ts above `skewedAbove`: the old watermark − maxJump, where no
   * genuine point is) count as done: their steps were closed by the re-base, and waiting for a
   * forecast at or past them would hold commits back until the genuine clock catches up.
   */
  rebased(series: string, skewedAbove: number): void {
    this.forecastUpTo.delete(series);
    this.rebasing.add(series);
    for (const q of this.queues.values()) {
      for (const h of q) for (const p of h.points) if (p.series === series && p.ts > skewedAbove) this.rejected.add(p);
    }
  }

  /** Forecasts were made (and written) for these steps. */
  forecast(steps: readonly { readonly series: string; readonly ts: number; readonly reset?: boolean }[]): void {
    for (const s of steps) {
      if (this.rebasing.size > 0 && this.rebasing.has(s.series)) {
        if (s.reset !== true) continue; // a step of the skewed clock, emitted at the re-base
        this.rebasing.delete(s.series);
        this.forecastUpTo.set(s.series, s.ts);
        continue;
      }
      const prev = this.forecastUpTo.get(s.series);
      if (prev === undefined || s.ts > prev) this.forecastUpTo.set(s.series, s.ts);
    }
  }

  /** One position per partition seen: safe to commit now. */
  positions(): Position[] {
    const out: Position[] = [];
    for (const [key, latest] of this.latest) {
      const q = this.queues.get(key);
      let head = 0;
      if (q !== undefined) {
        while (head < q.length && this.isDone(q[head]!)) head++;
        if (head > 0) q.splice(0, head);
      }
      const first = q?.[0];
      if (first === undefined) out.push(latest);
      else {
        // The held record's own offset: it is the next one to read again.
        const own = (BigInt(first.position.offset) - 1n).toString();
        out.push({ topic: first.position.topic, partition: first.position.partition, offset: own });
      }
    }
    return out;
  }

  /** Records held back from commit (for tests and metrics). */
  held(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  private isDone(h: Held): boolean {
    for (const p of h.points) {
      if (this.rejected.has(p)) continue;
      const upTo = this.forecastUpTo.get(p.series);
      if (upTo === undefined || upTo < Math.floor(p.ts / this.stepMs) * this.stepMs) return false;
    }
    return true;
  }
}
