import { describe, expect, it } from 'vitest';
import { StallDetector } from '../../../src/runtime/stallDetector.js';

function setup(timeoutMs = 10_000) {
  let t = 1_000_000;
  const d = new StallDetector({ timeoutMs, now: () => t });
  return { d, advance: (ms: number) => (t += ms) };
}

const lag = (partition: number, n: number) => ({ type: 'consumer_lag', topic: 'in', partition, lag: n }) as const;
const records = (count: number) => ({ type: 'records_in', count }) as const;

describe('StallDetector', () => {
  it('is live while records wait but are being processed', () => {
    const { d, advance } = setup();
    d.observe(lag(0, 500));
    for (let i = 0; i < 10; i++) {
      advance(5000);
      d.observe(records(10));
      expect(d.check(true)).toEqual({ live: true });
    }
  });

  it('stalls when records wait and none is processed for the timeout, and recovers when one is', () => {
    const { d, advance } = setup();
    d.observe(lag(0, 3));
    d.observe(lag(1, 4));
    expect(d.check(true).live).toBe(true);
    advance(9_999);
    expect(d.check(true).live).toBe(true);
    advance(1);
    const stalled = d.check(true);
    expect(stalled.live).toBe(false);
    expect(stalled.reason).toContain('7 wait');
    expect(stalled.reason).toContain('10 s');
    d.observe(records(1));
    expect(d.check(true)).toEqual({ live: true });
  });

  it('an idle input is not stalled, and a backlog after a long quiet spell gets the full timeout', () => {
    const { d, advance } = setup();
    advance(3_600_000); // an hour without input and without lag
    expect(d.check(true).live).toBe(true);
    d.observe(lag(0, 5));
    advance(1000);
    expect(d.check(true).live).toBe(true); // the backlog appeared now, not an hour ago
    advance(9_000);
    expect(d.check(true).live).toBe(true);
    advance(1_000);
    expect(d.check(true).live).toBe(false);
  });

  it('no lag, no stall: caught up and nothing to do', () => {
    const { d, advance } = setup();
    d.observe(lag(0, 5));
    d.observe(records(5));
    d.observe(lag(0, 0));
    advance(60_000);
    expect(d.check(true).live).toBe(true);
  });

  it('not judged while the consumer is inactive (broker away, rebalancing); the timeout restarts when it is back', () => {
    const { d, advance } = setup();
    d.observe(lag(0, 5));
    expect(d.check(true).live).toBe(true);
    advance(60_000);
    expect(d.check(false).live).toBe(true);
    advance(5_000);
    expect(d.check(true).live).toBe(true);
    advance(10_000);
    expect(d.check(true).live).toBe(false);
  });

  it('revoked partitions take their lag with them', () => {
    const { d, advance } = setup();
    d.observe(lag(1, 5));
    expect(d.check(true).live).toBe(true);
    d.observe({ type: 'partitions_revoked', topic: 'in', partitions: [1] });
    advance(20_000);
    expect(d.check(true).live).toBe(true);
  });
});
