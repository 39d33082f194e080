/**
 * Resampler hot path on one core: points/s through `Resampler.push` alone (no RxJS, no codec),
 * for in-order points (most land in an open bucket), points within lateness out of order, and a
 * few late ones, with every record's origin passed as a dead letter would need it. Points and
 * origins are built outside the timed region.   npm run bench -- resampler
 */
import type { Point } from '../src/domain/point.js';
import { Resampler, type PushResult } from '../src/pipeline/core/resampler.js';

const STEP = 60_000;
const SERIES = 1000;
const STEPS = 300;
const PER_STEP = 4;
const RUNS = 7;

interface Origin {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
}

function input(shuffle: boolean): { points: Point[]; origins: Origin[] } {
  const points: Point[] = [];
  const origins: Origin[] = [];
  let seed = 7;
  const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let t = 0; t < STEPS; t++) {
    for (let k = 0; k < PER_STEP; k++) {
      for (let s = 0; s < SERIES; s++) {
        // Out of order by up to one step (lateness is two): nothing is late.
        const jitter = shuffle ? Math.floor(rnd() * STEP) : 0;
        points.push({ series: `s${s}`, ts: t * STEP + k * (STEP / PER_STEP) - jitter + STEP, value: Math.sin(t / 9 + s) });
        origins.push({ topic: 'in', partition: s % 8, offset: String(points.length), key: `s${s}` });
      }
    }
  }
  return { points, origins };
}

function run(points: readonly Point[], origins: readonly Origin[]): { ms: number; steps: number; rejected: number } {
  const r = new Resampler({ stepMs: STEP, aggregate: 'mean', latenessMs: 2 * STEP, idleCloseMs: 1e12, maxJumpMs: 86_400_000 });
  // A third argument (the record's origin) is ignored by builds whose push takes two.
  const push = r.push.bind(r) as (p: Point, arrival: number, origin?: Origin) => PushResult;
  let steps = 0;
  let rejected = 0;
  const t0 = performance.now();
  for (let i = 0; i < points.length; i++) {
    const res = push(points[i]!, i, origins[i]!);
    steps += res.steps.length;
    rejected += res.rejected.length;
  }
  return { ms: performance.now() - t0, steps, rejected };
}

export async function benchResampler(): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const [label, shuffle] of [
    ['in order', false],
    ['out of order within lateness', true],
  ] as const) {
    const { points, origins } = input(shuffle);
    const rates: number[] = [];
    let last = { ms: 0, steps: 0, rejected: 0 };
    for (let i = 0; i < RUNS; i++) {
      last = run(points, origins);
      rates.push(points.length / (last.ms / 1000));
    }
    rates.sort((a, b) => a - b);
    rows.push({
      input: `${label} (${SERIES} series, ${points.length} points)`,
      'median (pts/s)': Math.round(rates[RUNS >> 1]!),
      'min (pts/s)': Math.round(rates[0]!),
      'max (pts/s)': Math.round(rates[RUNS - 1]!),
      steps: last.steps,
      rejected: last.rejected,
    });
  }
  return rows;
}
