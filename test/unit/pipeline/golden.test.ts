import { mulberry32 } from '../../../src/domain/random.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { from, lastValueFrom, toArray } from 'rxjs';
import { expect, it } from 'vitest';
import { ManualClock } from '../../../src/domain/clock.js';
import type { Point } from '../../../src/domain/point.js';
import type { ClosedStep } from '../../../src/domain/step.js';
import type { Ingested } from '../../../src/domain/ingested.js';
import type { DeadLetter } from '../../../src/domain/deadLetter.js';
import type { PipelineEvent } from '../../../src/observability/events.js';
import { buildStepPipeline } from '../../../src/pipeline/build.js';
import { Resampler, type ResamplerOptions } from '../../../src/pipeline/core/resampler.js';
import { denormalize } from '../../../src/pipeline/core/normalizer.js';
import { parseSpec } from '../../../src/spec/loadSpec.js';
import { datasetsDir, describeWithDatasets } from '../../helpers/datasets.js';

const MIN = 60_000;
const H = 60 * MIN;

/** NAB format: `timestamp,value` with `YYYY-MM-DD HH:MM:SS` in UTC. */
function readNab(relPath: string, series = relPath): Point[] {
  const lines = readFileSync(join(datasetsDir, relPath), 'utf8').trim().split(/\r?\n/).slice(1);
  return lines.map((line) => {
    const [stamp, value] = line.split(',');
    const ts = Date.parse(`${stamp!.replace(' ', 'T')}Z`);
    const v = Number(value);
    if (!Number.isFinite(ts) || !Number.isFinite(v)) throw new Error(`unparsable line in ${relPath}: ${line}`);
    return { series, ts, value: v };
  });
}

function resampleAll(points: readonly Point[], opts: ResamplerOptions): ClosedStep[] {
  const r = new Resampler(opts);
  const out: ClosedStep[] = [];
  points.forEach((p, i) => {
    const res = r.push(p, i);
    expect(res.rejected).toEqual([]);
    out.push(...res.steps);
  });
  out.push(...r.flush());
  expect(r.flushRejected()).toEqual([]);
  return out;
}

/** Deterministic PRNG so the shuffles are reproducible. */
const rng = mulberry32;

const window = (stepMs: number, aggregate: ResamplerOptions['aggregate'] = 'mean', latenessMs = 0): ResamplerOptions => ({
  stepMs,
  aggregate,
  latenessMs,
  idleCloseMs: 5 * MIN,
  maxJumpMs: 24 * H,
});

describeWithDatasets('golden: pipeline operators on real data', () => {
  it('nyc_taxi at its native 30 min step: 10,320 steps with identical values', () => {
    const pts = readNab('nab/realKnownCause/nyc_taxi.csv');
    expect(pts).toHaveLength(10_320);
    const steps = resampleAll(pts, window(30 * MIN));
    expect(steps).toHaveLength(10_320);
    expect(steps.map((s) => [s.ts, s.value, s.count])).toEqual(pts.map((p) => [p.ts, p.value, 1]));
  });

  it('nyc_taxi at 1 h (mean): 5,160 steps, each the mean of its two rows; sum conserves the total', () => {
    const pts = readNab('nab/realKnownCause/nyc_taxi.csv');
    const steps = resampleAll(pts, window(H));
    expect(steps).toHaveLength(5_160);
    steps.forEach((s, i) => {
      const [a, b] = [pts[2 * i]!, pts[2 * i + 1]!];
      expect(s.ts).toBe(a.ts);
      expect(s.value).toBe((a.value! + b.value!) / 2);
      expect(s.count).toBe(2);
    });
    const total = pts.reduce((t, p) => t + p.value!, 0);
    expect(resampleAll(pts, window(H, 'sum')).reduce((t, s) => t + s.value!, 0)).toBe(total);
  });

  it('nyc_taxi shuffled within lateness gives the same steps as in order', () => {
    const pts = readNab('nab/realKnownCause/nyc_taxi.csv');
    const lateness = 3 * H;
    const rand = rng(42);
    const shuffled = pts
      .map((p, i) => ({ p, key: p.ts + Math.floor(rand() * lateness), i }))
      .sort((x, y) => x.key - y.key || x.i - y.i)
      .map((x) => x.p);
    expect(shuffled).not.toEqual(pts);
    expect(resampleAll(shuffled, window(H, 'last', lateness))).toEqual(resampleAll(pts, window(H, 'last', lateness)));
  });

  it('three Twitter volume series interleaved (off-grid :53 s stamps) resample per series at 5 min', () => {
    const names = ['AAPL', 'GOOG', 'IBM'];
    const bySeries = names.map((n) => readNab(`nab/realTweets/Twitter_volume_${n}.csv`, n));
    const merged = bySeries.flat().sort((a, b) => a.ts - b.ts);
    const steps = resampleAll(merged, window(5 * MIN, 'sum', 10 * MIN));
    bySeries.forEach((pts, i) => {
      const mine = steps.filter((s) => s.series === names[i]);
      expect(mine.map((s) => [s.ts, s.value])).toEqual(pts.map((p) => [Math.floor(p.ts / (5 * MIN)) * 5 * MIN, p.value]));
    });
  });

  it('ambient_temperature (gapped) through the real buildStepPipeline (resample, impute ffill with maxGap 24 h, normalize) matches an independent gap count', async () => {
    const pts = readNab('nab/realKnownCause/ambient_temperature_system_failure.csv', 'ambient');
    expect(pts).toHaveLength(7_267);
    // Independent count from the raw timestamps.
    let missing = 0;
    let longest = 0;
    let expectImputed = 0;
    let expectResets = 0;
    for (let i = 1; i < pts.length; i += 1) {
      const gap = (pts[i]!.ts - pts[i - 1]!.ts) / H - 1;
      missing += gap;
      longest = Math.max(longest, gap + 1);
      if (gap > 0 && gap <= 24) expectImputed += gap;
      if (gap > 24) expectResets += 1;
    }
    expect(missing).toBe(621); // as the data set's README says
    expect(longest).toBe(174);

    // The production operator chain (what replay, backtest and run use), one record per row.
    const spec = parseSpec({
      name: 'ambient',
      input: { topic: 'golden' },
      output: { topic: 'golden.out' },
      window: { step: '1h', aggregate: 'mean', idleClose: '5m', maxJump: '24h' }, // lateness: 0 (the default)
      impute: { strategy: 'ffill', maxGap: '24h', season: '24h' },
      normalize: { method: 'zscore', halfLife: '24h' },
      model: { type: 'gru', hidden: 4, context: 8, horizon: 2 },
      baseline: { type: 'last-value' },
    });
    const records: Ingested[] = pts.map((p, i) => ({ points: [p], deadLetters: [], position: { topic: 'golden', partition: 0, offset: String(i + 1) } }));
    const events: PipelineEvent[] = [];
    const letters: DeadLetter[] = [];
    const batches = await lastValueFrom(
      from(records).pipe(buildStepPipeline(spec, { clock: new ManualClock(), events: (e) => events.push(e), onDeadLetter: (l) => letters.push(...l) }), toArray()),
    );
    const out = batches.flatMap((b) => b.steps);
    expect(letters).toEqual([]); // nothing is late here
    const count = (type: PipelineEvent['type']) => events.reduce((n, e) => n + (e.type === type && 'count' in e ? e.count : 0), 0);
    const imputedReported = count('imputed');
    const resetsReported = count('gap_reset');
    expect(count('points_in')).toBe(pts.length);
    expect(imputedReported).toBe(expectImputed);
    expect(resetsReported).toBe(expectResets);
    expect(out.filter((s) => s.imputed)).toHaveLength(expectImputed);
    expect(out.filter((s) => s.reset)).toHaveLength(expectResets + 1);
    expect(out).toHaveLength(pts.length + expectImputed);
    expect(out.filter((s) => s.observed).map((s) => [s.ts, s.value])).toEqual(pts.map((p) => [p.ts, p.value]));
    let last = Number.NaN;
    for (const s of out) {
      expect(Number.isFinite(s.z)).toBe(true);
      expect(denormalize(s.z, s.scale)).toBeCloseTo(s.value, 6);
      if (s.observed) last = s.value;
      else expect(s.value).toBe(last);
    }
  });
});
