import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, StreamcastError } from '../../../../src/domain/errors.js';
import type { ClosedStep, ImputedStep } from '../../../../src/domain/step.js';
import { Imputer, type ImputeStrategy, type ImputerOptions } from '../../../../src/pipeline/core/imputer.js';
import { IMPUTE_STRATEGIES } from '../../../../src/spec/pipelineSpec.js';

const H = 3_600_000;
const base: ImputerOptions = { stepMs: H, strategy: 'ffill', maxGapMs: 24 * H, seasonMs: 24 * H };
const cs = (hour: number, value: number | null, series = 's'): ClosedStep => ({
  series,
  ts: hour * H,
  value,
  count: value === null ? 0 : 1,
});
const runAll = (imp: Imputer, steps: readonly ClosedStep[]): ImputedStep[] => [...steps.flatMap((s) => imp.push(s)), ...imp.flush()];
const brief = (xs: readonly ImputedStep[]) => xs.map((x) => [x.ts / H, x.value, x.observed ? 'o' : 'i', x.sinceObserved, x.reset ? 'R' : '']);

describe('Imputer', () => {
  it('the first step of a series is observed with reset; steps in a row pass through', () => {
    const imp = new Imputer(base);
    expect(runAll(imp, [cs(0, 1), cs(1, 2)])).toEqual([
      { series: 's', ts: 0, value: 1, observed: true, imputed: false, sinceObserved: 0, reset: true },
      { series: 's', ts: H, value: 2, observed: true, imputed: false, sinceObserved: 0, reset: false },
    ]);
  });

  describe('a 12-hour hole', () => {
    const steps = [cs(0, 5), cs(13, 7)]; // hours 1..12 missing

    it('maxGap larger than the hole: filled with ffill, no reset', () => {
      const imp = new Imputer({ ...base, maxGapMs: 24 * H });
      const out = runAll(imp, steps);
      expect(out).toHaveLength(14);
      expect(brief(out.slice(1, 13))).toEqual(Array.from({ length: 12 }, (_, i) => [i + 1, 5, 'i', i + 1, '']));
      expect(out[13]).toMatchObject({ ts: 13 * H, value: 7, observed: true, reset: false });
      const stats = imp.takeStats();
      expect(stats.imputed.ffill).toBe(12);
      expect(stats.gapResets).toBe(0);
      expect(imp.takeStats().imputed.ffill).toBe(0); // counters restart after take
    });

    it('maxGap exactly the hole: still filled', () => {
      expect(runAll(new Imputer({ ...base, maxGapMs: 12 * H }), steps)).toHaveLength(14);
    });

    it('maxGap smaller than the hole: nothing invented, the next step resets', () => {
      const imp = new Imputer({ ...base, maxGapMs: 6 * H });
      expect(brief(runAll(imp, steps))).toEqual([
        [0, 5, 'o', 0, 'R'],
        [13, 7, 'o', 0, 'R'],
      ]);
      expect(imp.takeStats()).toMatchObject({ gapResets: 1, imputed: { ffill: 0 } });
    });
  });

  it('zero strategy', () => {
    const out = runAll(new Imputer({ ...base, strategy: 'zero' }), [cs(0, 5), cs(3, 7)]);
    expect(brief(out)).toEqual([
      [0, 5, 'o', 0, 'R'],
      [1, 0, 'i', 1, ''],
      [2, 0, 'i', 2, ''],
      [3, 7, 'o', 0, ''],
    ]);
  });

  it('explicit nulls are missing steps imputed in place', () => {
    const imp = new Imputer(base);
    expect(brief(runAll(imp, [cs(0, 5), cs(1, null), cs(3, null), cs(4, 6)]))).toEqual([
      [0, 5, 'o', 0, 'R'],
      [1, 5, 'i', 1, ''],
      [2, 5, 'i', 2, ''],
      [3, 5, 'i', 3, ''],
      [4, 6, 'o', 0, ''],
    ]);
  });

  it('a null run longer than maxGap: the first maxGap steps are imputed, the rest skipped, then reset', () => {
    const imp = new Imputer({ ...base, maxGapMs: 2 * H });
    const out = runAll(imp, [cs(0, 5), cs(1, null), cs(2, null), cs(3, null), cs(4, null), cs(5, 8), cs(6, null)]);
    expect(brief(out)).toEqual([
      [0, 5, 'o', 0, 'R'],
      [1, 5, 'i', 1, ''],
      [2, 5, 'i', 2, ''],
      [5, 8, 'o', 0, 'R'],
      [6, 8, 'i', 1, ''],
    ]);
    expect(imp.takeStats()).toMatchObject({ gapResets: 1, skipped: 2, imputed: { ffill: 3 } });
  });

  it('a hole plus nulls counts as one missing run against maxGap', () => {
    const imp = new Imputer({ ...base, maxGapMs: 3 * H });
    // run: hours 1,2 (hole) + 3 (null) = 3 ≤ 3 → imputed; hour 4 would make 4 > 3.
    const out = runAll(imp, [cs(0, 1), cs(3, null), cs(5, 2)]);
    expect(brief(out)).toEqual([
      [0, 1, 'o', 0, 'R'],
      [1, 1, 'i', 1, ''],
      [2, 1, 'i', 2, ''],
      [3, 1, 'i', 3, ''],
      [5, 2, 'o', 0, 'R'],
    ]);
  });

  it('a series that starts with nulls skips them (counted) and never emits NaN', () => {
    for (const strategy of IMPUTE_STRATEGIES) {
      const imp = new Imputer({ ...base, strategy });
      const out = runAll(imp, [cs(0, null), cs(1, null), cs(3, 4), cs(4, null), cs(5, 5)]);
      expect(out[0]).toMatchObject({ ts: 3 * H, value: 4, observed: true, reset: true });
      expect(out.every((x) => Number.isFinite(x.value))).toBe(true);
      expect(out.map((x) => x.ts / H)).toEqual([3, 4, 5]);
      expect(imp.takeStats().skipped).toBe(2);
    }
  });

  it('ignores out-of-order and duplicate steps (counted as stale)', () => {
    const imp = new Imputer(base);
    expect(runAll(imp, [cs(0, 1), cs(2, 2), cs(1, 9), cs(2, 9)]).map((x) => x.value)).toEqual([1, 1, 2]);
    expect(imp.takeStats().stale).toBe(2);
  });

  describe('seasonal', () => {
    const opts: ImputerOptions = { stepMs: H, strategy: 'seasonal', maxGapMs: 10 * H, seasonMs: 4 * H };

    it('takes the value one season ago; ffill while that phase has no value yet', () => {
      const imp = new Imputer(opts);
      // 0..5 observed, 6..7 missing (season 4 → values of hours 2 and 3), then 9..10 missing:
      // hour 9's phase was last written at 5, hour 10's at 6 (itself imputed).
      const out = runAll(imp, [0, 1, 2, 3, 4, 5].map((h) => cs(h, 10 + h)).concat([cs(8, 50), cs(11, 60)]));
      expect(brief(out.filter((x) => !x.observed))).toEqual([
        [6, 12, 'i', 1, ''],
        [7, 13, 'i', 2, ''],
        [9, 15, 'i', 1, ''],
        [10, 12, 'i', 2, ''],
      ]);
      expect(imp.takeStats().imputed.seasonal).toBe(4);
      const early = runAll(new Imputer(opts), [cs(0, 1), cs(2, 2)]);
      expect(early[1]).toMatchObject({ ts: H, value: 1, observed: false });
    });

    it('ring lives in a Float64Array of season length and survives snapshot/restore through JSON', () => {
      const a = new Imputer(opts);
      runAll(a, [cs(0, 1), cs(1, 2), cs(2, 3)]);
      const snap = JSON.parse(JSON.stringify(a.snapshot('s'))) as { ring: unknown[] };
      expect(snap.ring).toEqual([1, 2, 3, null]);
      const b = new Imputer(opts);
      b.restore('s', snap);
      const rest = [cs(4, 10), cs(6, 12)];
      expect(runAll(b, rest)).toEqual(runAll(a, rest));
    });
  });

  describe('seasonal fallback', () => {
    it('fills with ffill where the season has no value at that phase yet; counts by the method used', () => {
      const imp = new Imputer({ stepMs: H, strategy: 'seasonal', maxGapMs: 10 * H, seasonMs: 3 * H });
      const out = runAll(imp, [cs(0, 1), cs(1, 5), cs(5, 2)]);
      // hour 2: phase 2 never written → ffill (5); 3: one season ago = hour 0 (1); 4: hour 1 (5)
      expect(out.slice(2, 5).map((x) => x.value)).toEqual([5, 1, 5]);
      expect(imp.takeStats().imputed).toEqual({ seasonal: 2, ffill: 1, linear: 0, zero: 0 });
    });
  });

  describe('linear (non-causal)', () => {
    const opts: ImputerOptions = { ...base, strategy: 'linear', maxGapMs: 4 * H };

    it('holds missing steps back until the next observation, then interpolates', () => {
      const imp = new Imputer(opts);
      expect(imp.push(cs(0, 0))).toHaveLength(1);
      expect(imp.push(cs(1, null))).toEqual([]);
      const out = imp.push(cs(4, 8));
      expect(brief(out)).toEqual([
        [1, 2, 'i', 1, ''],
        [2, 4, 'i', 2, ''],
        [3, 6, 'i', 3, ''],
        [4, 8, 'o', 0, ''],
      ]);
      expect(imp.takeStats().imputed.linear).toBe(3);
    });

    it('gives up past maxGap: nothing invented, reset, held nulls counted as skipped', () => {
      const imp = new Imputer(opts);
      const out = runAll(imp, [cs(0, 0), cs(1, null), cs(2, null), cs(6, 8)]);
      expect(brief(out)).toEqual([
        [0, 0, 'o', 0, 'R'],
        [6, 8, 'o', 0, 'R'],
      ]);
      expect(imp.takeStats()).toMatchObject({ skipped: 2, gapResets: 1 });
    });

    it('flush drops held nulls (no right-hand value) and counts them', () => {
      const imp = new Imputer(opts);
      expect(runAll(imp, [cs(0, 0), cs(1, null), cs(2, null)])).toHaveLength(1);
      expect(imp.takeStats().skipped).toBe(2);
    });
  });

  it('snapshot/restore/drop/size and invalid snapshots', () => {
    const imp = new Imputer(base);
    expect(imp.snapshot('s')).toBeUndefined();
    imp.push(cs(0, 1));
    imp.push(cs(1, 1, 't'));
    expect(imp.size).toBe(2);
    const snap = imp.snapshot('s');
    imp.drop('s');
    expect(imp.size).toBe(1);
    imp.restore('s', snap);
    expect(imp.push(cs(2, 3))[0]).toMatchObject({ ts: H, value: 1, observed: false });
    expect(() => imp.restore('s', { v: 1 })).toThrow(StreamcastError);
    expect(() => imp.restore('s', 'x')).toThrow(StreamcastError);
  });

  it('keeps thousands of series apart (state in slot-indexed pages): drop frees a slot, the next series starts afresh', () => {
    for (const strategy of ['ffill', 'seasonal', 'linear'] as const) {
      const imp = new Imputer({ ...base, strategy, seasonMs: 4 * H });
      const n = 2500; // over two pages of 1,024 slots
      const id = (i: number) => `host-${i}`;
      for (let i = 0; i < n; i++) imp.push(cs(0, i, id(i)));
      for (let i = 0; i < n; i++) imp.push(cs(1, i + 0.5, id(i)));
      for (let i = 0; i < n; i += 2) imp.drop(id(i));
      expect(imp.size).toBe(n / 2);
      // New series take the freed slots: nothing of the dropped series' state may leak into them.
      for (let i = 0; i < n; i += 2) expect(imp.push(cs(5, -i, `new-${i}`))).toEqual([{ series: `new-${i}`, ts: 5 * H, value: -i, observed: true, imputed: false, sinceObserved: 0, reset: true }]);
      for (let i = 1; i < n; i += 2) {
        // A 2-hour hole: filled from this series' own state.
        const out = imp.push(cs(4, i + 1, id(i)));
        expect(out.map((x) => [x.ts / H, x.observed])).toEqual([
          [2, false],
          [3, false],
          [4, true],
        ]);
        if (strategy === 'ffill') expect(out[0]!.value).toBe(i + 0.5);
        if (strategy === 'linear') expect(out[0]!.value).toBeCloseTo(i + 0.5 + 0.5 / 3, 9);
        if (strategy === 'seasonal') expect(out[0]!.value).toBe(i + 0.5); // phase 2 is empty: ffill
        expect(imp.snapshot(id(i))).toMatchObject({ lastTs: 4 * H, obsTs: 4 * H, obsValue: i + 1, run: 0, broken: false, pendingNulls: 0 });
      }
      expect(imp.snapshot(id(0))).toBeUndefined();
      expect(imp.size).toBe(n);
    }
  });

  it('rejects bad options with a ConfigError', () => {
    expect(() => new Imputer({ ...base, seasonMs: H + 1 })).toThrow(ConfigError);
    expect(() => new Imputer({ ...base, strategy: 'cubic' as ImputeStrategy })).toThrow(/strategy/);
    expect(() => new Imputer({ ...base, maxGapMs: -1 })).toThrow(/maxGap/);
  });
});

describe('Imputer properties', () => {
  const stepsArb = fc.array(
    fc.record({
      series: fc.constantFrom('a', 'b'),
      dt: fc.integer({ min: 1, max: 8 }),
      value: fc.option(fc.integer({ min: -50, max: 50 }), { nil: null, freq: 4 }),
    }),
    { maxLength: 80 },
  );

  it('grid-contiguous between resets, finite, observed values preserved, runs ≤ maxGap', () => {
    fc.assert(
      fc.property(
        stepsArb,
        fc.constantFrom<ImputeStrategy>(...IMPUTE_STRATEGIES),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 1, max: 5 }),
        (rows, strategy, maxGapSteps, seasonSteps) => {
          const imp = new Imputer({ stepMs: H, strategy, maxGapMs: maxGapSteps * H, seasonMs: seasonSteps * H });
          const cursor = new Map<string, number>();
          const input: ClosedStep[] = rows.map((r) => {
            const h = (cursor.get(r.series) ?? 0) + r.dt;
            cursor.set(r.series, h);
            return cs(h, r.value, r.series);
          });
          const out = runAll(imp, input);
          const stats = imp.takeStats();
          for (const series of ['a', 'b']) {
            const o = out.filter((x) => x.series === series);
            const observedIn = input.filter((x) => x.series === series && x.value !== null);
            expect(o.filter((x) => x.observed).map((x) => [x.ts, x.value])).toEqual(observedIn.map((x) => [x.ts, x.value]));
            o.forEach((x, i) => {
              expect(Number.isFinite(x.value)).toBe(true);
              expect(x.imputed).toBe(!x.observed);
              expect(x.sinceObserved).toBeLessThanOrEqual(maxGapSteps);
              if (x.observed) expect(x.sinceObserved).toBe(0);
              const prev = o[i - 1];
              if (prev === undefined) {
                expect(x.reset).toBe(true);
                return;
              }
              expect(x.ts).toBeGreaterThan(prev.ts);
              if (!x.reset) {
                expect(x.ts - prev.ts).toBe(H); // no hole without a reset
                expect(x.sinceObserved).toBe(x.observed ? 0 : prev.sinceObserved + 1);
              } else {
                expect(x.observed).toBe(true);
              }
            });
          }
          const imputedCount = out.filter((x) => x.imputed).length;
          expect(Object.values(stats.imputed).reduce((s, n) => s + n, 0)).toBe(imputedCount);
          expect(stats.gapResets).toBe(out.filter((x) => x.reset).length - new Set(out.map((x) => x.series)).size);
          if (strategy === 'zero') expect(out.filter((x) => x.imputed).every((x) => x.value === 0)).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('ffill imputes the last observation; linear lies between its neighbours', () => {
    fc.assert(
      fc.property(stepsArb, fc.constantFrom<ImputeStrategy>('ffill', 'linear'), (rows, strategy) => {
        const imp = new Imputer({ stepMs: H, strategy, maxGapMs: 5 * H, seasonMs: H });
        let h = 0;
        const out = runAll(imp, rows.map((r) => cs((h += r.dt), r.value)));
        let last: number | undefined;
        out.forEach((x, i) => {
          if (x.observed) {
            last = x.value;
            return;
          }
          if (strategy === 'ffill') expect(x.value).toBe(last);
          else {
            const next = out.slice(i).find((y) => y.observed)!;
            expect(x.value).toBeGreaterThanOrEqual(Math.min(last!, next.value) - 1e-9);
            expect(x.value).toBeLessThanOrEqual(Math.max(last!, next.value) + 1e-9);
          }
        });
      }),
      { numRuns: 300 },
    );
  });
});
