import { describe, expect, it } from 'vitest';
import { isRetriableKafkaError, kafkaErrorType } from '../../../../src/connectors/kafka/kafkaClient.js';
import { fromRemoteError, toRemoteError } from '../../../../src/connectors/kafka/remoteError.js';

describe('remote errors', () => {
  it('keep what errors are classified by through structured cloning', () => {
    const connection = Object.assign(new Error('Connection error: ECONNREFUSED'), { name: 'KafkaJSConnectionError', retriable: true });
    const exhausted = Object.assign(new Error('retries exhausted', { cause: connection }), { name: 'KafkaJSNumberOfRetriesExceeded', retriable: false, retryCount: 5 });
    const fenced = Object.assign(new Error('fenced'), { name: 'KafkaJSProtocolError', retriable: false, type: 'PRODUCER_FENCED', code: 90 });
    for (const original of [exhausted, fenced]) {
      const back = fromRemoteError(structuredClone(toRemoteError(original)));
      expect(back).toBeInstanceOf(Error);
      expect(back.name).toBe(original.name);
      expect(back.message).toBe(original.message);
      expect(isRetriableKafkaError(back)).toBe(isRetriableKafkaError(original));
      expect(kafkaErrorType(back)).toBe(kafkaErrorType(original));
    }
    expect(isRetriableKafkaError(fromRemoteError(toRemoteError(exhausted)))).toBe(true);
    expect((fromRemoteError(toRemoteError(fenced)) as Error & { code?: number }).code).toBe(90);
  });

  it('turns a thrown non-error into a message and stops at a cause cycle', () => {
    expect(fromRemoteError(toRemoteError('boom')).message).toBe('boom');
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    let depth = 0;
    for (let r: { cause?: unknown } | undefined = toRemoteError(a); r !== undefined; r = r.cause as { cause?: unknown } | undefined) depth++;
    expect(depth).toBeLessThanOrEqual(6);
  });
});
