import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Forecast } from '../../src/domain/forecast.js';
import { assertForecastHygiene } from '../../src/domain/quantiles.js';
import type { NormalizedStep } from '../../src/domain/step.js';
import type { Forecaster } from '../../src/forecasting/forecaster.js';

/**
 * The shared forecaster contract (River's check_estimator idea: one suite every model must pass): every
 * Forecaster — baselines and GRU alike — runs this suite from its own *.contract.test.ts.
 * `make` must build a fresh instance with step length `opts.stepMs` (default CONTRACT_STEP_MS).
 */
export const CONTRACT_STEP_MS = 60_000;

export interface ContractOptions {
  readonly stepMs?: number;
  /** fast-check runs per property (lower it for slow models). */
  readonly numRuns?: number;
  /** Longest generated input, in steps over all series. */
  readonly maxSteps?: number;
}

/** Grid-aligned so that ts / step is an integer, as the resampler emits. */
const T0 = 28_333_333 * 3_600_000;

interface Event {
  readonly series: number;
  readonly value: number;
  readonly observed: boolean;
  readonly reset: boolean;
  /** Extra steps skipped before a reset (a gap). */
  readonly gap: number;
}

const magnitudes: fc.Arbitrary<number> = fc.oneof(
  fc.double({ min: -1000, max: 1000, noNaN: true }),
  fc.double({ min: -1e-12, max: 1e-12, noNaN: true }),
  fc.double({ min: -1e15, max: 1e15, noNaN: true }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 1, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 1e300, -1e300),
);

const scales = fc.record({
  mean: fc.oneof(fc.constant(0), fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ noNaN: true, noDefaultInfinity: true })),
  std: fc.oneof(fc.constant(0), fc.constant(1), fc.double({ min: 0, max: 1e6, noNaN: true }), fc.double({ min: 0, noNaN: true, noDefaultInfinity: true })),
});

/** Inputs the pipeline could emit: per series consecutive steps, first step and post-gap steps flagged `reset`. */
function stepsArb(stepMs: number, maxSteps: number): fc.Arbitrary<NormalizedStep[]> {
  const event = (constant: number | undefined) =>
    fc.record({
      series: fc.integer({ min: 0, max: 2 }),
      value: constant === undefined ? magnitudes : fc.constant(constant),
      observed: fc.boolean(),
      // About one step in twenty starts afresh after a gap.
      reset: fc.integer({ min: 0, max: 19 }).map((x) => x === 0),
      gap: fc.integer({ min: 0, max: 5 }),
    });
  // One run in four is a constant series (all series share one value).
  const events = fc
    .tuple(fc.option(magnitudes, { freq: 3 }), fc.array(scales, { minLength: 3, maxLength: 3 }), fc.integer({ min: 1, max: maxSteps }))
    .chain(([constant, sc, n]) =>
      fc.array(event(constant ?? undefined), { minLength: 1, maxLength: n }).map((evs): { sc: typeof sc; events: Event[] } => ({ sc, events: evs })),
    );
  return events.map(({ sc, events: evs }) => buildSteps(evs, sc, stepMs));
}

function buildSteps(events: readonly Event[], sc: readonly { mean: number; std: number }[], stepMs: number): NormalizedStep[] {
  const last = new Map<number, { ts: number; since: number }>();
  return events.map((e) => {
    const prev = last.get(e.series);
    const reset = prev === undefined || e.reset;
    const ts = prev === undefined ? T0 + e.series * 7 * stepMs : prev.ts + (e.reset ? 1 + e.gap : 1) * stepMs;
    const since = e.observed ? 0 : prev === undefined || reset ? 1 : prev.since + 1;
    last.set(e.series, { ts, since });
    const scale = sc[e.series]!;
    const zRaw = scale.std > 0 ? (e.value - scale.mean) / scale.std : 0;
    return {
      series: `s${e.series}`,
      ts,
      value: e.value,
      observed: e.observed,
      imputed: !e.observed,
      sinceObserved: since,
      reset,
      z: Number.isFinite(zRaw) ? zRaw : 0,
      scale,
    };
  });
}

/** Splits `xs` into consecutive batches at the given cut fractions. */
function batches<T>(xs: readonly T[], cuts: readonly number[]): T[][] {
  const at = [...new Set(cuts.map((c) => Math.floor(c * xs.length)))].filter((i) => i > 0 && i < xs.length).sort((a, b) => a - b);
  const out: T[][] = [];
  let from = 0;
  for (const i of [...at, xs.length]) {
    out.push(xs.slice(from, i));
    from = i;
  }
  return out;
}

function feed(f: Forecaster, parts: readonly (readonly NormalizedStep[])[]): Forecast[] {
  return parts.flatMap((b) => f.step(b));
}

const cutsArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 });

export function runForecasterContract(name: string, make: () => Forecaster, opts: ContractOptions = {}): void {
  const stepMs = opts.stepMs ?? CONTRACT_STEP_MS;
  const params = { numRuns: opts.numRuns ?? 100 };
  const input = stepsArb(stepMs, opts.maxSteps ?? 60);

  describe(`Forecaster contract: ${name}`, () => {
    it('declares a positive horizon, sorted quantile levels in (0, 1) and a model identity', () => {
      const f = make();
      expect(Number.isInteger(f.horizon) && f.horizon >= 1).toBe(true);
      f.quantiles.forEach((q, i) => {
        expect(q).toBeGreaterThan(0);
        expect(q).toBeLessThan(1);
        if (i > 0) expect(q).toBeGreaterThan(f.quantiles[i - 1]!);
      });
      expect(f.info.name.length).toBeGreaterThan(0);
      expect(['baseline', 'gru']).toContain(f.info.kind);
      expect(f.size).toBe(0);
      expect(f.step([])).toEqual([]);
    });

    it('returns one finite, non-crossing forecast per input step, in order, at horizons 1..H', () => {
      fc.assert(
        fc.property(input, cutsArb, (steps, cuts) => {
          const f = make();
          const out = feed(f, batches(steps, cuts));
          expect(out).toHaveLength(steps.length);
          out.forEach((o, i) => {
            const s = steps[i]!;
            expect(o.series).toBe(s.series);
            expect(o.ts).toBe(s.ts);
            expect(o.imputed).toBe(s.imputed);
            expect(o.model).toEqual(f.info);
            assertForecastHygiene(o, { horizon: f.horizon, step: stepMs, quantiles: f.quantiles });
          });
          expect(f.size).toBe(new Set(steps.map((s) => s.series)).size);
        }),
        params,
      );
    });

    it('is deterministic: two instances fed the same input agree exactly', () => {
      fc.assert(
        fc.property(input, (steps) => {
          expect(make().step(steps)).toEqual(make().step(steps));
        }),
        params,
      );
    });

    it('serves several steps of one series in a batch exactly as one by one', () => {
      fc.assert(
        fc.property(input, cutsArb, (steps, cuts) => {
          const together = feed(make(), batches(steps, cuts));
          const single = feed(
            make(),
            steps.map((s) => [s]),
          );
          expect(together).toEqual(single);
        }),
        params,
      );
    });

    it('is causal: forecasts made at t do not change when values after t change', () => {
      fc.assert(
        fc.property(input, fc.nat(), magnitudes, cutsArb, (steps, k0, v, cuts) => {
          const k = k0 % steps.length;
          const changed = steps.map((s, i) => (i > k ? { ...s, value: v, z: 0 } : s));
          const a = feed(make(), batches(steps, cuts));
          const b = feed(make(), batches(changed, cuts));
          expect(b.slice(0, k + 1)).toEqual(a.slice(0, k + 1));
        }),
        params,
      );
    });

    it('snapshot → restore into a fresh instance reproduces the subsequent forecasts', () => {
      fc.assert(
        fc.property(input, fc.nat(), (steps, k0) => {
          const k = k0 % (steps.length + 1);
          const a = make();
          a.step(steps.slice(0, k));
          const b = make();
          for (const id of new Set(steps.map((s) => s.series))) {
            const snap = a.snapshot(id);
            if (snap === undefined) continue;
            // A copy at an odd offset: restore must not assume it owns an aligned buffer.
            const shifted = new Uint8Array(snap.byteLength + 3);
            shifted.set(snap, 3);
            b.restore(id, shifted.subarray(3));
          }
          expect(b.size).toBe(a.size);
          expect(b.step(steps.slice(k))).toEqual(a.step(steps.slice(k)));
        }),
        params,
      );
    });

    it('snapshot of an unknown series is undefined', () => {
      const f = make();
      expect(f.snapshot('never-seen')).toBeUndefined();
    });

    it('drop() forgets a series: it then behaves as in a fresh instance', () => {
      fc.assert(
        fc.property(input, input, (before, after) => {
          const a = make();
          a.step(before);
          const ids = new Set(before.map((s) => s.series));
          for (const id of ids) a.drop(id);
          expect(a.size).toBe(0);
          for (const id of ids) expect(a.snapshot(id)).toBeUndefined();
          // Continue each series on its grid without a reset flag: only forgetting makes it new.
          const lastTs = new Map(before.map((s) => [s.series, s.ts]));
          const firstTs = new Map<string, number>();
          for (const s of after) if (!firstTs.has(s.series)) firstTs.set(s.series, s.ts);
          const cont = after.map((s) => {
            const shift = (lastTs.get(s.series) ?? firstTs.get(s.series)! - stepMs) + stepMs - firstTs.get(s.series)!;
            return { ...s, ts: s.ts + shift, reset: false };
          });
          expect(a.step(cont)).toEqual(make().step(cont));
        }),
        params,
      );
    });
  });
}
