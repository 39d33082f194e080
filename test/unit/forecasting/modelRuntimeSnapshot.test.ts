import { describe, expect, it } from 'vitest';
import { StreamcastError } from '../../../src/domain/errors.js';
import { decodeRuntimeSnapshot, encodeRuntimeSnapshot } from '../../../src/forecasting/modelRuntimeSnapshot.js';

const bytes = (...xs: number[]) => Uint8Array.from(xs);

describe('model runtime snapshot format', () => {
  it('round-trips the three parts, absent and empty ones included, with the model version', () => {
    for (const snap of [
      { baseline: bytes(1, 2, 3), history: bytes(4, 5), gru: bytes(6), version: 7 },
      { baseline: bytes(1), history: undefined, gru: undefined, version: 0 },
      { baseline: new Uint8Array(0), history: bytes(9), gru: undefined, version: 0xfffffffe },
    ]) {
      expect(decodeRuntimeSnapshot(encodeRuntimeSnapshot(snap), 's')).toEqual(snap);
    }
  });

  it('keeps its byte layout: "SMR1", version, then length-prefixed parts (0xffffffff: absent)', () => {
    const out = encodeRuntimeSnapshot({ baseline: bytes(0xaa), history: undefined, gru: bytes(0xbb, 0xcc), version: 3 });
    expect([...out]).toEqual([0x53, 0x4d, 0x52, 0x31, 3, 0, 0, 0, 1, 0, 0, 0, 0xaa, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0xbb, 0xcc]);
  });

  it('decodes from a view into a larger buffer and returns copies', () => {
    const out = encodeRuntimeSnapshot({ baseline: bytes(1, 2), history: bytes(3), gru: undefined, version: 1 });
    const big = new Uint8Array(out.byteLength + 10);
    big.set(out, 5);
    const view = big.subarray(5, 5 + out.byteLength);
    const snap = decodeRuntimeSnapshot(view, 's');
    expect(snap.baseline).toEqual(bytes(1, 2));
    big.fill(0);
    expect(snap.baseline).toEqual(bytes(1, 2));
  });

  it('refuses what is not one, naming the series: short, wrong magic, truncated part', () => {
    const good = encodeRuntimeSnapshot({ baseline: bytes(1, 2, 3), history: bytes(4), gru: undefined, version: 1 });
    const wrongMagic = good.slice();
    wrongMagic[0] = 0;
    for (const bad of [new Uint8Array(4), wrongMagic, good.slice(0, good.byteLength - 5), good.slice(0, 10)]) {
      expect(() => decodeRuntimeSnapshot(bad, 'cpu-1')).toThrow(StreamcastError);
      expect(() => decodeRuntimeSnapshot(bad, 'cpu-1')).toThrow(/series "cpu-1" is corrupt/);
    }
  });
});
