import { describe, expect, it } from 'vitest';
import { stateRequestBytes } from '../../../../src/connectors/kafka/kafkaDelivery.js';

const KB = 1024;

describe('stateRequestBytes', () => {
  it('keeps a usual checkpoint in 32 KB requests, so forecasts do not queue behind large ones', () => {
    expect(stateRequestBytes(0)).toBe(32 * KB);
    expect(stateRequestBytes(8 * 1024 * KB)).toBe(32 * KB); // 8 MiB: 256 requests
  });

  it('sends a large checkpoint in at most 256 requests, up to 512 KB each (under message.max.bytes)', () => {
    expect(stateRequestBytes(32 * 1024 * KB)).toBe(128 * KB);
    expect(Math.ceil((130 * 1024 * KB) / stateRequestBytes(130 * 1024 * KB))).toBe(260); // an idle close of 200k series
    expect(stateRequestBytes(1024 * 1024 * KB)).toBe(512 * KB);
  });
});
