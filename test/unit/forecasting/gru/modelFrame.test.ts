import { describe, expect, it } from 'vitest';
import { isStreamcastError } from '../../../../src/domain/errors.js';
import { featureLayout } from '../../../../src/forecasting/gru/featureLayout.js';
import { initGruModelWeights } from '../../../../src/forecasting/gru/gruWeights.js';
import { identityCalibration } from '../../../../src/forecasting/gru/calibration.js';
import { decodeModelFrame, encodeModelFrame } from '../../../../src/forecasting/gru/modelFrame.js';

const layout = featureLayout(['hourOfDay', 'dayOfWeek'], 30, 10, { kind: 'seasonal', steps: 168 });
const w = initGruModelWeights({ layout, units: 64, horizon: 24, quantiles: [0.1, 0.5, 0.9] }, 7, 5);

describe('model frame', () => {
  it('round-trips weights, layout (with its residual base), version and meta; H = 64 fits well under 1 MB', () => {
    const frame = encodeModelFrame(w, { pipeline: 'p', specHash: 'abc', training: { steps: 10 } });
    expect(frame.byteLength).toBeLessThan(200_000);
    const { weights, meta } = decodeModelFrame(frame);
    expect(meta).toEqual({ pipeline: 'p', specHash: 'abc', training: { steps: 10 } });
    expect(weights.version).toBe(5);
    expect(weights.layout).toEqual(layout);
    expect(weights.cell.units).toBe(64);
    expect(weights.cell.inputSize).toBe(w.cell.inputSize);
    expect(weights.head.quantiles).toEqual([0.1, 0.5, 0.9]);
    expect(weights.head.horizon).toBe(24);
    for (const k of ['kernel', 'recurrentKernel', 'bias'] as const) expect(weights.cell[k]).toEqual(w.cell[k]);
    for (const k of ['kernel', 'bias'] as const) expect(weights.head[k]).toEqual(w.head[k]);
  });

  it('carries a diff layout (its extra input column)', () => {
    const dl = featureLayout(['hourOfDay'], 30, 10, { kind: 'last-value' }, true);
    const dw = initGruModelWeights({ layout: dl, units: 8, horizon: 3, quantiles: [0.1, 0.5, 0.9] }, 3, 2);
    const { weights } = decodeModelFrame(encodeModelFrame(dw, { pipeline: 'p' }));
    expect(weights.layout).toEqual(dl);
    expect(weights.cell.inputSize).toBe(dw.cell.inputSize);
    expect(weights.cell.kernel).toEqual(dw.cell.kernel);
  });

  it('carries a seasonal base\'s base columns', () => {
    const bl = featureLayout(['hourOfDay'], 30, 10, { kind: 'seasonal', steps: 24 }, false, [], [1, 2, 12]);
    const bw = initGruModelWeights({ layout: bl, units: 8, horizon: 3, quantiles: [0.1, 0.5, 0.9] }, 3, 2);
    const { weights } = decodeModelFrame(encodeModelFrame(bw, { pipeline: 'p' }));
    expect(weights.layout).toEqual(bl);
    expect(weights.cell.inputSize).toBe(8);
    expect(weights.cell.kernel).toEqual(bw.cell.kernel);
  });

  it('carries seasonal-lag columns; a reader that drops them refuses the frame (its input size differs)', () => {
    const ll = featureLayout(['hourOfDay'], 30, 10, { kind: 'last-value', changeHalfLife: 24 }, false, [{ steps: 24, offsets: [1, 3] }]);
    const lw = initGruModelWeights({ layout: ll, units: 8, horizon: 3, quantiles: [0.1, 0.5, 0.9] }, 3, 2);
    const frame = encodeModelFrame(lw, { pipeline: 'p' });
    const { weights } = decodeModelFrame(frame);
    expect(weights.layout).toEqual(ll);
    expect(weights.cell.inputSize).toBe(8);
    // What a version from before lag columns reads: the same header without `lags`.
    const len = new DataView(frame.buffer, frame.byteOffset).getUint32(4, true);
    const header = JSON.parse(new TextDecoder().decode(frame.subarray(8, 8 + len))) as Record<string, unknown>;
    expect(header.lags).toEqual([{ steps: 24, offsets: [1, 3] }]);
    delete header.lags;
    const json = new TextEncoder().encode(JSON.stringify(header).padEnd(len, ' '));
    expect(json.byteLength).toBe(len);
    const old = frame.slice();
    old.set(json, 8);
    let err: unknown;
    try {
      decodeModelFrame(old);
    } catch (e) {
      err = e;
    }
    expect(isStreamcastError(err) && err.kind === 'config').toBe(true);
  });

  it('carries the calibration', () => {
    const calibration = { ...identityCalibration(24, [0.1, 0.5, 0.9]), scale: Float32Array.from({ length: 72 }, (_, i) => 1 + i / 100), cells: 9 };
    const { weights } = decodeModelFrame(encodeModelFrame({ ...w, calibration }, { pipeline: 'p' }));
    expect(Array.from(weights.calibration!.scale)).toEqual(Array.from(calibration.scale));
    expect(Array.from(weights.calibration!.blend)).toEqual(Array.from(calibration.blend));
    expect(decodeModelFrame(encodeModelFrame(w, { pipeline: 'p' })).weights.calibration).toBeUndefined();
  });

  it('rejects truncated, foreign and non-finite frames with a config error', () => {
    const frame = encodeModelFrame(w, { pipeline: 'p' });
    const nan = frame.slice();
    new DataView(nan.buffer).setFloat32(nan.byteLength - 4, Number.NaN, true);
    const foreign = new TextEncoder().encode('{"version":1}');
    for (const bad of [frame.slice(0, frame.byteLength - 4), frame.slice(0, 6), foreign, nan]) {
      let err: unknown;
      try {
        decodeModelFrame(bad);
      } catch (e) {
        err = e;
      }
      expect(isStreamcastError(err) && err.kind === 'config').toBe(true);
    }
  });
});
