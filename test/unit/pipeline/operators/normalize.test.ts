import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../src/domain/errors.js';
import type { ImputedStep } from '../../../../src/domain/step.js';
import { denormalize } from '../../../../src/pipeline/core/normalizer.js';
import { normalize } from '../../../../src/pipeline/operators/normalize.js';

const H = 3_600_000;
const st = (hour: number, value: number, series = 's'): ImputedStep => ({
  series,
  ts: hour * H,
  value,
  observed: true,
  imputed: false,
  sinceObserved: 0,
  reset: hour === 0,
});

describe('normalize operator', () => {
  it('z-scores each series with its own stats; the scale inverts z', async () => {
    const input = [st(0, 10), st(0, 1000, 't'), st(1, 20), st(1, 2000, 't'), st(2, 15)];
    const op = normalize({ stepMs: H, halfLifeMs: 24 * H });
    const out = await lastValueFrom(from(input).pipe(op, toArray()));
    expect(out.map((x) => x.z).slice(0, 2)).toEqual([0, 0]);
    out.forEach((x, i) => expect(denormalize(x.z, x.scale)).toBeCloseTo(input[i]!.value, 9));
    // t's second z equals s's (same shape, 100× the scale): proves per-series stats.
    expect(out[3]!.z).toBeCloseTo(out[2]!.z, 12);
    const again = await lastValueFrom(from(input).pipe(op, toArray()));
    expect(again).toEqual(out);
  });

  it('validates options when the operator is built', () => {
    expect(() => normalize({ stepMs: H, halfLifeMs: 0 })).toThrow(ConfigError);
  });
});
