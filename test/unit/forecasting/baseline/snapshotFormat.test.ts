import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamcastError } from '../../../../src/domain/errors.js';
import { LastValueForecaster } from '../../../../src/forecasting/baseline/lastValue.js';
import { BASELINE_SNAPSHOT_VERSION } from '../../../../src/forecasting/baseline/pointBaseline.js';
import { SeasonalNaiveForecaster } from '../../../../src/forecasting/baseline/seasonalNaive.js';
import { seriesSteps } from '../../../helpers/normalizedSteps.js';
import { caseSteps, makeCaseForecaster, snapshotCases } from './fixtures/snapshotCases.js';

interface FixtureFile {
  readonly version: number;
  readonly cases: readonly { readonly name: string; readonly hex: string }[];
}

function fixture(version: number): FixtureFile {
  return JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', `snapshots-v${version}.json`), 'utf8')) as FixtureFile;
}

// Production settings: 1-minute steps, a 1-day season, 12 horizons, 100 residuals each.
const production = () =>
  new SeasonalNaiveForecaster({ name: 'sn', stepMs: 60_000, horizon: 12, quantiles: [0.1, 0.5, 0.9], seasonSteps: 1440 });

describe('baseline snapshot format', () => {
  // Snapshots written by earlier builds sit in changelogs; each layout stays readable.
  for (const version of [1, 2]) {
    const file = fixture(version);
    it(`reads layout ${version} (fixtures/snapshots-v${version}.json): the forecasts after a restore are those of a live forecaster`, () => {
      expect(file.version).toBe(version);
      expect(file.cases.map((c) => c.name)).toEqual(snapshotCases.slice(0, file.cases.length).map((c) => c.name));
      for (const [i, { name, hex }] of file.cases.entries()) {
        const c = snapshotCases[i]!;
        const steps = caseSteps(c);
        const live = makeCaseForecaster(c);
        const head = live.step(steps.slice(0, c.prefix));
        const bytes = Uint8Array.from(Buffer.from(hex, 'hex'));
        expect(bytes[0], name).toBe(version);
        const restored = makeCaseForecaster(c);
        restored.restore('s', bytes);
        // Restoring writes the current layout: the same bytes as the live forecaster's snapshot.
        expect(restored.snapshot('s'), name).toEqual(live.snapshot('s'));
        expect(restored.step(steps.slice(c.prefix)), name).toEqual(live.step(steps.slice(c.prefix)));
        expect(head.length, name).toBe(c.prefix);
      }
    });
  }

  it(`writes layout ${BASELINE_SNAPSHOT_VERSION}, the compact one`, () => {
    expect(BASELINE_SNAPSHOT_VERSION).toBe(2);
    const f = production();
    f.step(seriesSteps('a', [1]));
    expect(f.snapshot('a')![0]).toBe(2);
  });

  it('a series of one point costs a few hundred bytes, not the capacity of its rings', () => {
    const f = production();
    f.step(seriesSteps('a', [42]));
    // Header 16, common 24, season ring 8 + one value, one forecast origin 12 + 12 points,
    // 12 empty residual rings of 4 bytes (layout 1: 17,728 bytes).
    expect(f.snapshot('a')!.byteLength).toBe(16 + 24 + (8 + 8) + (4 + 12 + 96 + 48));
    const lv = new LastValueForecaster({ name: 'lv', stepMs: 60_000, horizon: 12, quantiles: [0.1, 0.5, 0.9] });
    lv.step(seriesSteps('a', [42]));
    expect(lv.snapshot('a')!.byteLength).toBe(16 + 24 + (4 + 12 + 96 + 48));
  });

  it('grows with the series up to the layout-1 size less the unused origin padding', () => {
    const f = production();
    const values = Array.from({ length: 1500 }, (_, i) => Math.sin(i / 50));
    f.step(seriesSteps('a', values));
    // A full season and full residual rings: the same content as layout 1, plus 4 bytes per origin and 4 of origin count, less 4 per ring.
    expect(f.snapshot('a')!.byteLength).toBe(16 + 24 + (8 + 8 * 1440) + (4 + 12 * (12 + 96) + 12 * 4 + 12 * 400));
  });

  it('snapshot → restore → snapshot is the identity, and forecasts go on identically (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 2, max: 12 }),
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 80 }),
        fc.array(fc.nat(79), { maxLength: 3 }),
        fc.nat(),
        (m, H, R, values, resets, k0) => {
          const make = () =>
            new SeasonalNaiveForecaster({ name: 'sn', stepMs: 60_000, horizon: H, quantiles: [0.1, 0.5, 0.9], seasonSteps: m, residualWindow: R, minResiduals: 2 });
          const steps = seriesSteps('a', values, { observed: (i) => i % 5 !== 2, reset: (i) => i === 0 || resets.includes(i) });
          const k = 1 + (k0 % steps.length);
          const a = make();
          a.step(steps.slice(0, k));
          const snap = a.snapshot('a')!;
          const b = make();
          b.restore('a', snap);
          expect(b.snapshot('a')).toEqual(snap);
          expect(b.step(steps.slice(k))).toEqual(a.step(steps.slice(k)));
        },
      ),
    );
  });

  it('rejects a truncated, padded or unknown-version snapshot with a fatal error', () => {
    const f = production();
    f.step(seriesSteps('a', [1, 2, 3]));
    const snap = f.snapshot('a')!;
    const g = production();
    expect(() => g.restore('a', snap.subarray(0, snap.byteLength - 1))).toThrow(StreamcastError);
    expect(() => g.restore('a', snap.subarray(0, snap.byteLength - 1))).toThrow(/truncated/);
    const padded = new Uint8Array(snap.byteLength + 4);
    padded.set(snap);
    expect(() => g.restore('a', padded)).toThrow(/4 trailing bytes/);
    const v3 = snap.slice();
    v3[0] = 3;
    expect(() => g.restore('a', v3)).toThrow(/version 3/);
    expect(g.size).toBe(0);
  });
});
