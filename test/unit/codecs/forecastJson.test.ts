import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeForecast } from '../../../src/codecs/forecastJson.js';
import type { Forecast } from '../../../src/domain/forecast.js';

const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
const forecast: fc.Arbitrary<Forecast> = fc.record({
  series: fc.string({ minLength: 1, maxLength: 40 }),
  ts: fc.integer({ min: 0, max: 8.64e15 }),
  step: fc.integer({ min: 1, max: 1e9 }),
  forecast: fc.array(
    fc.record({
      h: fc.integer({ min: 1, max: 100 }),
      ts: fc.integer({ min: 0, max: 8.64e15 }),
      mean: finite,
      q: fc.dictionary(fc.constantFrom('0.1', '0.5', '0.9', '0.05', '0.95'), finite),
    }),
    { maxLength: 30 },
  ),
  model: fc.record({ name: fc.string(), version: fc.nat(), kind: fc.constantFrom('baseline' as const, 'gru' as const) }),
  imputed: fc.boolean(),
});

describe('encodeForecast', () => {
  it('is byte-for-byte JSON.stringify (property)', () => {
    fc.assert(fc.property(forecast, (f) => {
        expect(encodeForecast(f)).toBe(JSON.stringify(f));
      }), { numRuns: 500 });
  });

  it('escapes hostile series names', () => {
    const f: Forecast = { series: 'a"b\\c\n\u2028', ts: 1, step: 1, forecast: [], model: { name: 'x', version: 0, kind: 'baseline' }, imputed: false };
    expect(JSON.parse(encodeForecast(f))).toEqual(f);
  });
});

describe('encodeForecast with the text it keeps between calls', () => {
  it('is JSON.stringify for runs of forecasts that share ts, step and horizons, and after they change', () => {
    const run = fc.array(fc.tuple(forecast, fc.nat(3)), { minLength: 1, maxLength: 20 }).map((xs) => {
      // Consecutive forecasts often share the head: copy it from the previous one.
      const out: Forecast[] = [];
      for (const [f, share] of xs) {
        const prev = out.at(-1);
        if (prev === undefined || share === 0) out.push(f);
        else if (share === 1) out.push({ ...f, ts: prev.ts, step: prev.step });
        else out.push({ ...f, ts: prev.ts, step: prev.step, forecast: prev.forecast.map((h) => ({ ...h, mean: h.mean + 1 })) });
      }
      return out;
    });
    fc.assert(
      fc.property(run, (fs) => {
        for (const f of fs) expect(encodeForecast(f)).toBe(JSON.stringify(f));
      }),
      { numRuns: 300 },
    );
  });
});
