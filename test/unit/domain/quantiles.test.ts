import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Forecast } from '../../../src/domain/forecast.js';
import { StreamcastError } from '../../../src/domain/errors.js';
import {
  assertForecastHygiene,
  finiteOr,
  normalQuantile,
  sanitizeForecast,
  sanitizeMean,
  sanitizeQuantileValues,
} from '../../../src/domain/quantiles.js';

const good = (): Forecast => ({
  series: 'a',
  ts: 1_000_000,
  step: 1000,
  forecast: [
    { h: 1, ts: 1_001_000, mean: 1, q: { '0.1': 0, '0.5': 1, '0.9': 2 } },
    { h: 2, ts: 1_002_000, mean: 1, q: { '0.1': -1, '0.5': 1, '0.9': 3 } },
  ],
  model: { name: 'm', version: 0, kind: 'baseline' },
  imputed: false,
});

function withHorizon(i: number, patch: object): Forecast {
  const f = good();
  const forecast = f.forecast.map((hf, j) => (j === i ? { ...hf, ...patch } : hf));
  return { ...f, forecast };
}

describe('sanitizeQuantileValues', () => {
  it('replaces non-finite values with the fallback and sorts', () => {
    const v = [3, Number.NaN, 1, Number.POSITIVE_INFINITY, 2];
    sanitizeQuantileValues(v, 2.5);
    expect(v).toEqual([1, 2, 2.5, 2.5, 3]);
  });

  it('uses 0 when the fallback is not finite, and respects n', () => {
    const v = new Float64Array([Number.NaN, -1, 9]);
    sanitizeQuantileValues(v, Number.NaN, 2);
    expect([...v]).toEqual([-1, 0, 9]);
  });

  it('always yields finite, non-decreasing values (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double()), fc.double(), (xs, fb) => {
        const v = xs.slice();
        sanitizeQuantileValues(v, fb);
        v.forEach((x, i) => {
          expect(Number.isFinite(x)).toBe(true);
          if (i > 0) expect(x).toBeGreaterThanOrEqual(v[i - 1]!);
        });
        // A permutation of the finite inputs plus fallbacks: nothing finite is lost.
        const finite = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
        for (const x of finite) expect(v).toContain(x);
      }),
    );
  });
});

describe('finiteOr / sanitizeMean', () => {
  it('keeps finite values and replaces the rest', () => {
    expect(finiteOr(2, 5)).toBe(2);
    expect(finiteOr(Number.NaN, 5)).toBe(5);
    expect(finiteOr(Number.NEGATIVE_INFINITY, Number.NaN)).toBe(0);
    expect(sanitizeMean(Number.NaN, 3)).toBe(3);
    expect(sanitizeMean(10, 3, [0, 4])).toBe(4);
    expect(sanitizeMean(-10, 3, [0, 4])).toBe(0);
  });
});

describe('sanitizeForecast', () => {
  it('returns the same object when already clean', () => {
    const f = good();
    expect(sanitizeForecast(f)).toBe(f);
  });

  it('uncrosses quantiles by level and replaces non-finite quantiles with the mean', () => {
    const f = withHorizon(0, { mean: 1, q: { '0.9': 0, '0.1': 2, '0.5': Number.NaN } });
    const s = sanitizeForecast(f);
    expect(s.forecast[0]!.q).toEqual({ '0.1': 0, '0.5': 1, '0.9': 2 });
    assertForecastHygiene(s);
    expect(s.forecast[1]).toBe(f.forecast[1]);
  });

  it('replaces a non-finite mean with the median finite quantile, else the fallback', () => {
    const a = sanitizeForecast(withHorizon(0, { mean: Number.NaN, q: { '0.1': 0, '0.5': 7, '0.9': 9 } }));
    expect(a.forecast[0]!.mean).toBe(7);
    const b = sanitizeForecast(withHorizon(0, { mean: Number.POSITIVE_INFINITY, q: { '0.5': Number.NaN } }), { fallback: 4 });
    expect(b.forecast[0]!.mean).toBe(4);
    expect(b.forecast[0]!.q['0.5']).toBe(4);
  });

  it('clamps the mean to meanBounds', () => {
    const s = sanitizeForecast(withHorizon(0, { mean: 100 }), { meanBounds: [0, 5] });
    expect(s.forecast[0]!.mean).toBe(5);
  });
});

describe('assertForecastHygiene', () => {
  const cases: [string, Forecast, RegExp][] = [
    ['NaN mean', withHorizon(1, { mean: Number.NaN }), /h=2\): mean is NaN, not finite/],
    ['Infinity quantile', withHorizon(0, { q: { '0.1': 0, '0.5': Number.POSITIVE_INFINITY, '0.9': 2 } }), /quantile "0.5" is Infinity/],
    ['crossed quantiles', withHorizon(0, { q: { '0.1': 0, '0.5': 3, '0.9': 2 } }), /quantiles cross: "0.5"=3 > "0.9"=2/],
    ['wrong horizon number', withHorizon(1, { h: 3, ts: 1_003_000 }), /h must be 2/],
    ['wrong horizon ts', withHorizon(1, { ts: 1_002_001 }), /ts is 1002001, expected origin \+ h\*step = 1002000/],
    ['bad key', withHorizon(0, { q: { '1.5': 0 } }), /"1.5" is not a level/],
  ];
  for (const [what, f, msg] of cases) {
    it(`throws a fatal StreamcastError on ${what}`, () => {
      let err: unknown;
      try {
        assertForecastHygiene(f);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(StreamcastError);
      expect((err as StreamcastError).kind).toBe('fatal');
      expect((err as Error).message).toMatch(msg);
      expect((err as Error).message).toContain('series "a" at ts=1000000');
    });
  }

  it('checks expectations: horizon count, step and quantile keys', () => {
    expect(() => assertForecastHygiene(good(), { horizon: 2, step: 1000, quantiles: [0.1, 0.5, 0.9] })).not.toThrow();
    expect(() => assertForecastHygiene(good(), { horizon: 3 })).toThrow(/has 2 horizons, expected 3/);
    expect(() => assertForecastHygiene(good(), { step: 60_000 })).toThrow(/step is 1000, expected 60000/);
    expect(() => assertForecastHygiene(good(), { quantiles: [0.1, 0.9] })).toThrow(/quantile keys \[0.1, 0.5, 0.9\], expected \[0.1, 0.9\]/);
  });

  it('rejects a bad model identity and imputed flag', () => {
    expect(() => assertForecastHygiene({ ...good(), model: { name: 'm', version: -1, kind: 'baseline' } })).toThrow(/model.version/);
    expect(() => assertForecastHygiene({ ...good(), imputed: 'no' as unknown as boolean })).toThrow(/imputed/);
    expect(() => assertForecastHygiene({ ...good(), forecast: [] })).toThrow(/non-empty/);
  });
});

describe('normalQuantile', () => {
  it('matches reference values of Φ⁻¹', () => {
    // Reference values, produced by:
    //   python3 -c "from statistics import NormalDist as N; print([repr(N().inv_cdf(p)) for p in
    //     (0.9, 0.975, 0.1, 0.001, 1e-10, 0.99999)])"
    const ref: [number, number][] = [
      [0.5, 0],
      [0.9, 1.2815515655446008],
      [0.975, 1.9599639845400536],
      [0.1, -1.2815515655446008],
      [0.001, -3.090232306167813],
      [1e-10, -6.361340902404056],
      [0.99999, 4.26489079392384],
    ];
    for (const [p, z] of ref) expect(normalQuantile(p)).toBeCloseTo(z, 12);
  });

  it('rejects levels outside (0, 1)', () => {
    expect(() => normalQuantile(0)).toThrow(RangeError);
    expect(() => normalQuantile(1)).toThrow(RangeError);
    expect(() => normalQuantile(Number.NaN)).toThrow(RangeError);
  });
});
