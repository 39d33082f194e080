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
});
