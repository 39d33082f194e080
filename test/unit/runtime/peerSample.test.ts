import { describe, expect, it } from 'vitest';
import { PeerSample, seriesHash } from '../../../src/runtime/peerSample.js';

const ids = Array.from({ length: 500 }, (_, i) => `s-${i}`);
/** The `k` ids of smallest hash: what a bottom-k sample must hold. */
const smallest = (k: number, of = ids) => [...of].sort((a, b) => seriesHash(a) - seriesHash(b)).slice(0, k);

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('PeerSample (bottom-k by series hash)', () => {
  it('keeps the max series of smallest hash, whatever order the records come in, and counts what it left out', () => {
    const takes = [1, 2, 3].map((seed) => {
      const sample = new PeerSample<string>(20);
      for (const id of shuffled(ids, seed)) sample.offer(id, `v-${id}`);
      const taken = sample.take();
      expect(sample.leftOut).toBe(ids.length - 20);
      return taken;
    });
    expect(takes[0]!.map((t) => t.series)).toEqual(smallest(20));
    expect(takes[1]).toEqual(takes[0]);
    expect(takes[2]).toEqual(takes[0]);
    expect(takes[0]!.every((t) => t.value === `v-${t.series}`)).toBe(true);
  });

  it('takes every series under the bound (nothing left out)', () => {
    const sample = new PeerSample<number>(1000);
    ids.forEach((id, i) => sample.offer(id, i));
    expect(sample.take()).toHaveLength(ids.length);
    expect(sample.leftOut).toBe(0);
  });

  it('the newest record of a series wins; a tombstone drops it, a record after the tombstone brings it back', () => {
    const sample = new PeerSample<string>(10);
    sample.offer('a', 'old');
    sample.offer('b', 'b1');
    sample.offer('c', 'c1');
    sample.offer('a', 'new');
    sample.offer('b', null);
    sample.offer('c', null);
    sample.offer('c', 'c2');
    expect(Object.fromEntries(sample.take().map((t) => [t.series, t.value]))).toEqual({ a: 'new', c: 'c2' });
  });

  it('holds at most 2·max entries while reading (bounded memory), and a zero bound takes nothing', () => {
    const sample = new PeerSample<Uint8Array>(5);
    for (const id of ids) sample.offer(id, new Uint8Array(1));
    expect(sample.take().map((t) => t.series)).toEqual(smallest(5));
    const none = new PeerSample<number>(0);
    none.offer('a', 1);
    expect(none.take()).toEqual([]);
    expect(none.leftOut).toBe(1);
  });

  it('the hash is stable (FNV-1a 32): samples do not move between builds', () => {
    expect(seriesHash('')).toBe(0x811c9dc5);
    expect(seriesHash('a')).toBe(0xe40c292c);
    expect(seriesHash('foobar')).toBe(0xbf9cf968);
  });
});
