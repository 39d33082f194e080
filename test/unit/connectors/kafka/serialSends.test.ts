import { describe, expect, it } from 'vitest';
import { serialSends } from '../../../../src/connectors/kafka/outputProducer.js';

/** A send whose completion the test controls. */
function controlled() {
  const started: number[] = [];
  const finish = new Map<number, { ok: () => void; fail: (e: Error) => void }>();
  const send = (n: number) =>
    new Promise<number>((resolve, reject) => {
      started.push(n);
      finish.set(n, { ok: () => resolve(n), fail: reject });
    });
  return { started, finish, send };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('serialSends', () => {
  it('runs calls one at a time in call order, though all were issued at once', async () => {
    const c = controlled();
    const send = serialSends(c.send);
    const results = [send(1), send(2), send(3)];
    await tick();
    expect(c.started).toEqual([1]);
    c.finish.get(1)!.ok();
    await tick();
    expect(c.started).toEqual([1, 2]);
    c.finish.get(2)!.ok();
    await tick();
    c.finish.get(3)!.ok();
    expect(await Promise.all(results)).toEqual([1, 2, 3]);
  });

  it('after a failure, later calls fail with the same error without being sent', async () => {
    const c = controlled();
    const send = serialSends(c.send);
    const first = send(1);
    const second = send(2);
    await tick();
    const boom = new Error('lost');
    c.finish.get(1)!.fail(boom);
    await expect(first).rejects.toBe(boom);
    await expect(second).rejects.toBe(boom);
    await expect(send(3)).rejects.toBe(boom);
    expect(c.started).toEqual([1]);
  });

  describe('riding out a broker outage', () => {
    // As kafkajs gives up after its own retries: non-retriable, around the retriable connection error.
    const outage = () => Object.assign(new Error('Connection error: connect ECONNREFUSED'), { retriable: false, cause: Object.assign(new Error('connect ECONNREFUSED'), { retriable: true }) });
    const noWait = () => Promise.resolve();

    it('sends a call that failed with an outage error again, in place: later calls wait behind it, order kept', async () => {
      const c = controlled();
      const retries: number[] = [];
      const send = serialSends(c.send, { signal: new AbortController().signal, sleep: noWait, onRetry: ({ attempt }) => retries.push(attempt) });
      const results = [send(1), send(2)];
      await tick();
      c.finish.get(1)!.fail(outage());
      await tick();
      c.finish.get(1)!.fail(outage());
      await tick();
      expect(c.started).toEqual([1, 1, 1]);
      c.finish.get(1)!.ok();
      await tick();
      c.finish.get(2)!.ok();
      expect(await Promise.all(results)).toEqual([1, 2]);
      expect(c.started).toEqual([1, 1, 1, 2]);
      expect(retries).toEqual([0, 1]);
    });

    it('anything else (a record too large) still fails for good, and so do later calls', async () => {
      const c = controlled();
      const send = serialSends(c.send, { signal: new AbortController().signal, sleep: noWait });
      const first = send(1);
      const second = send(2);
      await tick();
      const tooLarge = Object.assign(new Error('The request included a message larger than the max message size'), { retriable: false, type: 'MESSAGE_TOO_LARGE' });
      c.finish.get(1)!.fail(tooLarge);
      await expect(first).rejects.toBe(tooLarge);
      await expect(second).rejects.toBe(tooLarge);
      expect(c.started).toEqual([1]);
    });

    it('stops waiting when its signal aborts (the producer is disconnected): the call fails with the reason', async () => {
      const c = controlled();
      const disconnected = new AbortController();
      const send = serialSends(c.send, { signal: disconnected.signal, initialMs: 60_000, maxMs: 60_000 });
      const first = send(1);
      await tick();
      c.finish.get(1)!.fail(outage());
      await tick();
      const reason = new Error('disconnected');
      disconnected.abort(reason);
      await expect(first).rejects.toBe(reason);
      await expect(send(2)).rejects.toBe(reason);
      expect(c.started).toEqual([1]);
    });
  });
});
