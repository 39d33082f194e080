import { describe, expect, it } from 'vitest';
import type { NormalizedStep } from '../../../../src/domain/step.js';
import { CHANGE_FLOOR_REL, ChangeScales, windowChangeScale } from '../../../../src/forecasting/gru/changeScale.js';
import { baseName, parseBase, rebaseStep } from '../../../../src/forecasting/gru/residualBase.js';
import { Normalizer } from '../../../../src/pipeline/core/normalizer.js';
import { SeriesHistory } from '../../../../src/state/seriesHistory.js';
import { gaussian, rng } from '../../../helpers/normalizedSteps.js';

const STEP = 300_000;
const HALF_LIFE_STEPS = 288;

/** `values` through the real normaliser (5-minute steps, half-life one day), optionally with missing steps. */
function normalized(values: readonly number[], missing: (i: number) => boolean = () => false): NormalizedStep[] {
  const norm = new Normalizer({ stepMs: STEP, halfLifeMs: HALF_LIFE_STEPS * STEP });
  let last = values[0]!;
  let since = 0;
  return values.map((v, i) => {
    const observed = i === 0 || !missing(i);
    since = observed ? 0 : since + 1;
    if (observed) last = v;
    return norm.push({ series: 's', ts: i * STEP, value: observed ? v : last, observed, imputed: !observed, sinceObserved: since, reset: i === 0 });
  });
}

function window(steps: readonly NormalizedStep[]) {
  const h = new SeriesHistory({ stepMs: STEP, capacity: Math.max(2, steps.length) });
  for (const s of steps) h.append(s);
  return h.windowOf('s')!;
}

/** A slow drift (a daily cycle of amplitude 20) with step noise of sd `noise`, then optionally a level shift. */
function drifting(n: number, noise: number, shiftAt = Number.POSITIVE_INFINITY, shift = 0, seed = 1): number[] {
  const g = gaussian(rng(seed));
  return Array.from({ length: n }, (_, i) => 80 + 20 * Math.sin((2 * Math.PI * i) / 288) + noise * g() + (i >= shiftAt ? shift : 0));
}

const meanAbsChange = (v: readonly number[], from: number, to: number): number => {
  let s = 0;
  for (let i = from + 1; i < to; i++) s += Math.abs(v[i]! - v[i - 1]!);
  return s / (to - from - 1);
};

describe('change scale', () => {
  it("is the series' typical step change, not the spread of its level", () => {
    const v = drifting(3000, 0.5);
    const w = window(normalized(v));
    const d = windowChangeScale(w, HALF_LIFE_STEPS);
    const typical = meanAbsChange(v, 2000, 3000);
    expect(d[2999]! / typical).toBeGreaterThan(0.8);
    expect(d[2999]! / typical).toBeLessThan(1.25);
    // The normaliser's std is many typical steps here: a correction in std units means 10× more.
    expect(w.std[2999]! / d[2999]!).toBeGreaterThan(10);
  });

  it('survives a level shift: the std inflates for days, the change scale barely moves', () => {
    const v = drifting(3000, 0.5, 2000, -70);
    const w = window(normalized(v));
    const d = windowChangeScale(w, HALF_LIFE_STEPS);
    // One day (a half-life) after the shift.
    const t = 2288;
    expect(w.std[t]! / w.std[1999]!).toBeGreaterThan(2);
    expect(d[t]! / d[1999]!).toBeLessThan(1.25);
  });

  it('skips changes across imputed steps; floored on a flat series; the std before any change', () => {
    const v = drifting(600, 0.5);
    const gapped = windowChangeScale(window(normalized(v, (i) => i % 10 === 5)), HALF_LIFE_STEPS);
    const full = windowChangeScale(window(normalized(v)), HALF_LIFE_STEPS);
    // A forward fill reads as a zero change then a double one; skipping both keeps the scale.
    expect(gapped[599]! / full[599]!).toBeGreaterThan(0.85);
    expect(gapped[599]! / full[599]!).toBeLessThan(1.15);
    const flat = window(normalized([...Array.from({ length: 50 }, (_, i) => 10 + (i % 2)), ...new Array<number>(2000).fill(10)]));
    const df = windowChangeScale(flat, HALF_LIFE_STEPS);
    expect(df[2049]!).toBeGreaterThanOrEqual(CHANGE_FLOOR_REL * flat.std[2049]! - 1e-12);
    expect(df[2049]!).toBeGreaterThan(0);
    const one = window(normalized([5]));
    expect(windowChangeScale(one, HALF_LIFE_STEPS)[0]).toBe(one.std[0]);
  });

  it('serving (ChangeScales, seeded from history then stepped) gives the scale training computes', () => {
    const steps = normalized(drifting(1200, 2, 700, 30, 4), (i) => i % 37 === 0);
    const w = window(steps);
    const train = windowChangeScale(w, HALF_LIFE_STEPS);
    const serve = new ChangeScales(HALF_LIFE_STEPS, STEP);
    // Seeded from the first 800 steps as the history decodes them, then live steps.
    const h = new SeriesHistory({ stepMs: STEP, capacity: 2000 });
    for (const s of steps.slice(0, 800)) h.append(s);
    for (const s of h.stepsOf('s')) serve.push('s', s.ts, s.value, s.observed, s.scale.std);
    let got = 0;
    for (const s of steps.slice(800)) got = serve.push('s', s.ts, s.value, s.observed, s.scale.std);
    expect(got / train[1199]!).toBeCloseTo(1, 3);
    // A step already folded in is not counted twice.
    expect(serve.push('s', steps[1199]!.ts, steps[1199]!.value + 100, true, 1)).toBeCloseTo(got, 12);
  });

  it('the last-value base in change units: named in artifacts, parsed back, unknown names refused with a fix', () => {
    const b = parseBase('last-value:change:288');
    expect(b).toEqual({ kind: 'last-value', changeHalfLife: 288 });
    expect(baseName(b)).toBe('last-value:change:288');
    expect(parseBase('last-value')).toEqual({ kind: 'last-value' });
    expect(() => parseBase('last-value:change:0')).toThrow(/upgrade, or retrain/);
    const s = normalized([1, 2, 3])[2]!;
    expect(rebaseStep(s, b, Number.NaN, 0.25).scale).toEqual({ mean: s.value, std: 0.25 });
    // An artifact of the std-unit base keeps serving in std units.
    expect(rebaseStep(s, { kind: 'last-value' }, Number.NaN, 0.25).scale).toEqual({ mean: s.value, std: s.scale.std });
  });
});
