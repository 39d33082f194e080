import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, StreamcastError } from '../../../src/domain/errors.js';
import { RetriesExhaustedError, backoffDelay, defaultIsRetriable, retry } from '../../../src/platform/retry.js';

function harness(random = () => 0.5) {
  const sleeps: number[] = [];
  return {
    sleeps,
    base: { random, sleep: async (ms: number) => void sleeps.push(ms) },
  };
}

const transient = () => new StreamcastError('retriable', 'broker away');

describe('retry', () => {
  it('follows the exponential schedule, capped at maxMs (no jitter when random is mid-range)', async () => {
    const { sleeps, base } = harness(() => 0.5);
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw transient();
        },
        { ...base, retries: 6, initialMs: 100, maxMs: 2000, factor: 2, jitter: 0.2 },
      ),
    ).rejects.toBeInstanceOf(RetriesExhaustedError);
    expect(calls).toBe(7);
    expect(sleeps).toEqual([100, 200, 400, 800, 1600, 2000]);
  });

  it('spreads each delay by ±jitter around the base', async () => {
    const low = harness(() => 0);
    await retry(failTimes(3), { ...low.base, retries: 5, initialMs: 100, maxMs: 10_000, jitter: 0.2 });
    expect(low.sleeps).toEqual([80, 160, 320]);
    const high = harness(() => 0.999999);
    await retry(failTimes(3), { ...high.base, retries: 5, initialMs: 100, maxMs: 10_000, jitter: 0.2 });
    expect(high.sleeps).toEqual([120, 240, 480]);
  });

  it('keeps every delay within [0, maxMs] and within ±jitter of the base', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (n, initialMs, extra, factor, jitter, r) => {
          const maxMs = initialMs + extra;
          const d = backoffDelay(n, { initialMs, maxMs, factor, jitter }, () => r);
          const baseMs = Math.min(maxMs, initialMs * factor ** n);
          expect(d).toBeGreaterThanOrEqual(0);
          expect(d).toBeLessThanOrEqual(maxMs);
          expect(d).toBeGreaterThanOrEqual(Math.floor(baseMs * (1 - jitter)) - 1);
          expect(d).toBeLessThanOrEqual(Math.ceil(baseMs * (1 + jitter)) + 1);
        },
      ),
    );
  });

  it('returns the first success and passes the attempt number', async () => {
    const { sleeps, base } = harness();
    const seen: number[] = [];
    const result = await retry(
      async (attempt) => {
        seen.push(attempt);
        if (attempt < 2) throw transient();
        return 'ok';
      },
      { ...base, retries: 5, initialMs: 10, maxMs: 100 },
    );
    expect(result).toBe('ok');
    expect(seen).toEqual([0, 1, 2]);
    expect(sleeps).toHaveLength(2);
  });

  it('bails out at once on a non-retriable StreamcastError, rethrowing it unchanged', async () => {
    const { sleeps, base } = harness();
    const fatal = new StreamcastError('fatal', 'corrupt state');
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw fatal;
        },
        { ...base, retries: 5, initialMs: 10, maxMs: 100 },
      ),
    ).rejects.toBe(fatal);
    expect(calls).toBe(1);
    expect(sleeps).toEqual([]);
  });

  it('wraps the last error when retries run out, as a non-retriable error', async () => {
    const { base } = harness();
    const last = transient();
    const err = await retry(
      async () => {
        throw last;
      },
      { ...base, retries: 2, initialMs: 1, maxMs: 1 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetriesExhaustedError);
    expect((err as RetriesExhaustedError).attempts).toBe(3);
    expect((err as RetriesExhaustedError).cause).toBe(last);
    expect((err as RetriesExhaustedError).kind).toBe('fatal');
  });

  it('honours a custom isRetriable and reports each retry', async () => {
    const { base } = harness();
    const infos: { attempt: number; delayMs: number }[] = [];
    await expect(
      retry(
        async () => {
          throw new Error('nope');
        },
        { ...base, retries: 3, initialMs: 10, maxMs: 100, isRetriable: () => false, onRetry: (i) => infos.push(i) },
      ),
    ).rejects.toThrow('nope');
    expect(infos).toEqual([]);
    await retry(failTimes(2), { ...base, retries: 3, initialMs: 10, maxMs: 100, onRetry: (i) => infos.push(i) });
    expect(infos.map((i) => [i.attempt, i.delayMs])).toEqual([
      [0, 10],
      [1, 20],
    ]);
  });

  it('stops when the abort signal fires during the backoff sleep', async () => {
    const ac = new AbortController();
    let calls = 0;
    const p = retry(
      async () => {
        calls++;
        throw transient();
      },
      { retries: 10, initialMs: 60_000, maxMs: 60_000, signal: ac.signal },
    );
    await new Promise((r) => setTimeout(r, 10));
    ac.abort(new Error('shutting down'));
    await expect(p).rejects.toThrow('shutting down');
    expect(calls).toBe(1);
  });

  it('validates its options and says what is wrong', async () => {
    await expect(retry(async () => 1, { retries: -1, initialMs: 10, maxMs: 5 })).rejects.toThrow(ConfigError);
    await expect(retry(async () => 1, { retries: 1, initialMs: 10, maxMs: 5 })).rejects.toThrow(/maxMs must be >= initialMs/);
    await expect(retry(async () => 1, { retries: 1, initialMs: 1, maxMs: 5, jitter: 2 })).rejects.toThrow(/jitter/);
  });
});

describe('defaultIsRetriable', () => {
  it('retries retriable StreamcastErrors and unknown errors, not other kinds or retriable: false', () => {
    expect(defaultIsRetriable(transient())).toBe(true);
    expect(defaultIsRetriable(new StreamcastError('fatal', 'x'))).toBe(false);
    expect(defaultIsRetriable(new ConfigError('x'))).toBe(false);
    expect(defaultIsRetriable(new Error('ECONNREFUSED'))).toBe(true);
    expect(defaultIsRetriable(Object.assign(new Error('kafkajs'), { retriable: false }))).toBe(false);
  });
});

function failTimes(n: number): (attempt: number) => Promise<string> {
  return async (attempt) => {
    if (attempt < n) throw transient();
    return 'ok';
  };
}
