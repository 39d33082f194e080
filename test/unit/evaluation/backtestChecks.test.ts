import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/domain/errors.js';
import { baselineServedWarning, checkSpacing, checkWarmup, humanDuration, inSampleWarning } from '../../../src/evaluation/backtestChecks.js';

const M5 = 300_000;
const H1 = 3_600_000;
const series = (steps: number, spacing: number) => ({ firstTs: 0, lastTs: (steps - 1) * spacing, medianSpacingMs: spacing });

describe('checkWarmup', () => {
  it('refuses a warm-up that covers the data, naming a --warmup that works', () => {
    // NAB ec2_request_latency_system_failure: 4,032 five-minute rows; default warm-up 2 × 1w = 4,032 steps.
    const s = new Map([['ec2', series(4032, M5)]]);
    let err: unknown;
    try {
      checkWarmup(s, { stepMs: M5, warmupSteps: 4032, why: '2 × 1w, the longest baseline season', seasonSteps: 2016 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('--warmup 2016');
    expect((err as Error).message).toContain('4032 steps of 5m');
  });

  it('passes when one step can be scored, and warns about series too short for it', () => {
    expect(checkWarmup(new Map([['a', series(4034, M5)]]), { stepMs: M5, warmupSteps: 4032, why: 'x', seasonSteps: 2016 })).toBeUndefined();
    const w = checkWarmup(new Map([['a', series(5000, M5)], ['b', series(100, M5)]]), { stepMs: M5, warmupSteps: 4032, why: 'x', seasonSteps: 2016 });
    expect(w).toContain('1 of 2 series');
  });

  it('suggests half the data when even one season is too long', () => {
    expect(() => checkWarmup(new Map([['a', series(300, M5)]]), { stepMs: M5, warmupSteps: 4032, why: 'x', seasonSteps: 2016 })).toThrow('--warmup 150');
  });
});

describe('checkSpacing', () => {
  it('warns about hourly data through a 5-minute spec, with the measured spacing and the step to use', () => {
    const w = checkSpacing(new Map([['a', series(100, H1)]]), M5);
    expect(w).toContain('median spacing of 1h');
    expect(w).toContain('window.step: 1h');
    expect(w).toContain('92 %');
  });
  it('warns about a step far coarser than the data, and not about a close one', () => {
    expect(checkSpacing(new Map([['a', series(100, M5)]]), H1)).toContain('aggregates about 12 points');
    expect(checkSpacing(new Map([['a', series(100, M5)]]), 3 * M5)).toBeUndefined();
    expect(checkSpacing(new Map([['a', series(100, H1)]]), H1)).toBeUndefined();
  });
  it('names irregular spacings readably', () => {
    expect(humanDuration(5_400_000)).toBe('1h 30m');
    expect(humanDuration(H1)).toBe('1h');
  });
});

describe('labels', () => {
  it('says in-sample with the training range and the fix', () => {
    const w = inSampleWarning({ forecasts: 90, fraction: 0.9, models: [{ version: 1, firstTs: 0, lastTs: 86_400_000 }] });
    expect(w).toContain('in-sample: 90 %');
    expect(w).toContain('v1 was trained on 1970-01-01T00:00Z to 1970-01-02T00:00Z');
    expect(w).toContain('drop --model');
  });
  it('says which baseline the gru column holds and why', () => {
    const served = { kind: 'baseline' as const, baseline: 'seasonal-naive-1d', versions: [], gruFrom: null };
    expect(baselineServedWarning(served, { retrain: true, minHistory: 2016, longestSeriesSteps: 1000 })).toContain('no series reached retrain.minHistory (2016 steps; the longest has 1000)');
    expect(baselineServedWarning(served, { retrain: false, minHistory: 2016, longestSeriesSteps: 5000 })).toContain('--no-retrain');
    expect(baselineServedWarning({ ...served, kind: 'gru', versions: [1] }, { retrain: true, minHistory: 1, longestSeriesSteps: 5 })).toBeUndefined();
  });
});
