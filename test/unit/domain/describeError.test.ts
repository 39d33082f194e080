import { describe, expect, it } from 'vitest';
import { describeError } from '../../../src/domain/describeError.js';
import { StreamcastError } from '../../../src/domain/errors.js';

describe('describeError', () => {
  it('names each link of the cause chain with its class, broker error code and retriability, without repeating messages', () => {
    // What kafkajs throws when it gives up on a broker that is away (retry/index.js).
    const conn = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), { name: 'KafkaJSConnectionError', retriable: true });
    const wrapper = Object.assign(new Error(conn.message, { cause: conn }), { name: 'KafkaJSNonRetriableError', retriable: false });
    expect(describeError(wrapper)).toBe(
      'KafkaJSNonRetriableError [not retriable]: Connection error: connect ECONNREFUSED 127.0.0.1:9092 ← caused by KafkaJSConnectionError [retriable]',
    );
  });

  it('says what the broker said', () => {
    const e = Object.assign(new Error('Not authorized to access topics: [Topic authorization failed]'), { name: 'KafkaJSProtocolError', type: 'TOPIC_AUTHORIZATION_FAILED', retriable: false });
    const ours = new StreamcastError('fatal', 'Kafka consumer of in stopped for good', { cause: e });
    expect(describeError(ours)).toBe(
      'StreamcastError [fatal]: Kafka consumer of in stopped for good ← caused by KafkaJSProtocolError [TOPIC_AUTHORIZATION_FAILED, not retriable]: Not authorized to access topics: [Topic authorization failed]',
    );
  });

  it('copes with non-errors and self-causes', () => {
    expect(describeError('boom')).toBe('boom');
    const self: Error & { cause?: unknown } = new Error('loop');
    self.cause = self;
    expect(describeError(self)).toBe('Error: loop');
  });
});
