import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Forecast } from '../../../../src/domain/forecast.js';
import { isStreamcastError } from '../../../../src/domain/errors.js';
import { mulberry32, normalSource } from '../../../../src/domain/random.js';
import {
  applyCalibration,
  CalibrationCells,
  calibrationFromJson,
  calibrationToJson,
  fitCalibration,
  identityCalibration,
  MIN_CELLS_PER_HORIZON,
} from '../../../../src/forecasting/gru/calibration.js';

const Q = [0.1, 0.5, 0.9];

function forecast(rows: readonly [number, number, number][]): Forecast {
  return {
    series: 's',
    ts: 0,
    step: 1000,
    imputed: false,
    model: { name: 'p', version: 1, kind: 'gru' },
    forecast: rows.map(([lo, mid, hi], k) => ({ h: k + 1, ts: (k + 1) * 1000, mean: mid, q: { '0.1': lo, '0.5': mid, '0.9': hi } })),
  };
}

function baseline(means: readonly number[]): Forecast {
  return forecast(means.map((m) => [m, m, m]));
}

describe('fitCalibration', () => {
  it('keeps the model where it is the best centre and moves to the last value where that is', () => {
    const normal = normalSource(mulberry32(3));
    const cells = new CalibrationCells(2, Q);
    for (let i = 0; i < 500; i++) {
      const y = 100 + 10 * normal();
      // h=1: the model is exact up to small noise; h=2: the model is off by 8, the last value is close.
      const g1 = y + 0.1 * normal();
      cells.push(1, y, [g1 - 1, g1, g1 + 1], y + 5 * normal(), y + 7 * normal());
      const g2 = y + 8 + normal();
      cells.push(2, y, [g2 - 1, g2, g2 + 1], y + 0.5 * normal(), y + 7 * normal());
    }
    const cal = fitCalibration(cells);
    expect(Array.from(cal.blend.subarray(0, 3))).toEqual([1, 0, 0]);
    expect(cal.blend[4]!).toBeGreaterThanOrEqual(0.8);
    expect(cal.cells).toBe(1000);
  });

  it('widens intervals that are too narrow until held-out coverage is nominal', () => {
    const normal = normalSource(mulberry32(11));
    const cells = new CalibrationCells(1, Q);
    // True noise N(0, 1); the model claims a third of that spread (q0.9 − q0.5 = 1.2816 / 3).
    const half = 1.2816 / 3;
    const draw = (): [number, number] => {
      const g = 5 * normal();
      return [g, g + normal()];
    };
    for (let i = 0; i < 4000; i++) {
      const [g, y] = draw();
      cells.push(1, y, [g - half, g, g + half], g, g);
    }
    const cal = fitCalibration(cells);
    expect(cal.scale[0]!).toBeGreaterThan(2.6);
    expect(cal.scale[2]!).toBeLessThan(3.4);
    let inside = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) {
      const [g, y] = draw();
      const f = applyCalibration(forecast([[g - half, g, g + half]]), g, baseline([g]), cal);
      const q = f.forecast[0]!.q;
      if (y >= q['0.1']! && y <= q['0.9']!) inside++;
    }
    expect(inside / n).toBeGreaterThan(0.77);
    expect(inside / n).toBeLessThan(0.83);
  });

  it('leaves a horizon with too few held-out cells as the model says', () => {
    const cells = new CalibrationCells(2, Q);
    for (let i = 0; i < MIN_CELLS_PER_HORIZON - 1; i++) cells.push(1, i, [i + 5, i + 10, i + 20], i, i);
    for (let i = 0; i < 200; i++) cells.push(2, i, [i + 5, i + 10, i + 20], i, i);
    const cal = fitCalibration(cells);
    expect(Array.from(cal.blend.subarray(0, 3))).toEqual([1, 0, 0]);
    expect(Array.from(cal.scale.subarray(0, 3))).toEqual([1, 1, 1]);
    expect(Array.from(cal.blend.subarray(3, 6))).not.toEqual([1, 0, 0]);
  });

  it('ignores cells with non-finite parts', () => {
    const cells = new CalibrationCells(1, Q);
    cells.push(1, Number.NaN, [0, 1, 2], 1, 1);
    cells.push(1, 1, [0, Number.POSITIVE_INFINITY, 2], 1, 1);
    cells.push(1, 1, [0, 1, 2], 1, Number.NaN);
    expect(cells.size).toBe(0);
  });
});

describe('applyCalibration', () => {
  it('never outputs NaN, Infinity or crossed quantiles', () => {
    const finite = fc.double({ min: -1e6, max: 1e6, noNaN: true });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(finite, fc.double({ min: 0, max: 1e3, noNaN: true }), fc.double({ min: 0, max: 1e3, noNaN: true })), { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 10 })), { minLength: 4, maxLength: 4 }),
        fc.array(fc.double({ min: 0.2, max: 10, noNaN: true }), { minLength: 12, maxLength: 12 }),
        (rows, weights, scales) => {
          const H = rows.length;
          const blend = new Float32Array(H * 3);
          for (let h = 0; h < H; h++) {
            const [a, b] = weights[h]!;
            const x = Math.min(a, 10) / 10;
            const y = Math.min(b, 10 - a < 0 ? 0 : 10 - a) / 10;
            blend.set([1 - x - y < 0 ? 0 : x, y, Math.max(0, 1 - x - y)], h * 3);
          }
          const cal = { ...identityCalibration(H, Q), blend, scale: Float32Array.from(scales.slice(0, H * 3)) };
          const model = forecast(rows.map(([mid, dl, du]) => [mid - dl, mid, mid + du]));
          const out = applyCalibration(model, rows[0]![0], baseline(rows.map((r) => r[0] + 1)), cal);
          for (const hf of out.forecast) {
            const v = [hf.q['0.1']!, hf.q['0.5']!, hf.q['0.9']!];
            for (const x of v) expect(Number.isFinite(x)).toBe(true);
            expect(v[0]!).toBeLessThanOrEqual(v[1]!);
            expect(v[1]!).toBeLessThanOrEqual(v[2]!);
            expect(hf.mean).toBe(v[1]);
          }
        },
      ),
    );
  });

  it('is the identity under the identity calibration', () => {
    const model = forecast([
      [1, 2, 3],
      [4, 5, 9],
    ]);
    const out = applyCalibration(model, 100, baseline([50, 60]), identityCalibration(2, Q));
    expect(out.forecast).toEqual(model.forecast);
  });
});

describe('calibration JSON', () => {
  it('round-trips and refuses what does not fit', () => {
    const cal = { ...identityCalibration(2, Q), blend: Float32Array.from([0.5, 0.5, 0, 0, 0.25, 0.75]), scale: Float32Array.from([2, 1, 3, 0.5, 1, 1.5]), cells: 77 };
    const back = calibrationFromJson(JSON.parse(JSON.stringify(calibrationToJson(cal))), 2, Q);
    expect(Array.from(back.blend)).toEqual(Array.from(cal.blend));
    expect(Array.from(back.scale)).toEqual(Array.from(cal.scale));
    expect(back.cells).toBe(77);
    const bad = [
      { blend: [1, 0, 0], scale: [1, 1, 1, 1, 1, 1], cells: 1 },
      { blend: [0.5, 0.6, 0, 1, 0, 0], scale: [1, 1, 1, 1, 1, 1], cells: 1 },
      { blend: [1, 0, 0, 1, 0, 0], scale: [1, 1, 0, 1, 1, 1], cells: 1 },
      { blend: [1, 0, 0, 1, 0, 'x'], scale: [1, 1, 1, 1, 1, 1], cells: 1 },
      null,
    ];
    for (const b of bad) {
      let caught: unknown;
      try {
        calibrationFromJson(b, 2, Q);
      } catch (err) {
        caught = err;
      }
      expect(isStreamcastError(caught) && caught.kind === 'config').toBe(true);
    }
  });
});
