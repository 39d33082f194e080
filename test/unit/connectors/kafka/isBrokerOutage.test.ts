import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { isBrokerOutage } from '../../../../src/connectors/kafka/kafkaClient.js';
import { fromRemoteError, toRemoteError } from '../../../../src/connectors/kafka/remoteError.js';

// kafkajs' constructors as its own code calls them (its type declarations are narrower).
type ErrorClass = new (...args: unknown[]) => Error;
const { KafkaJSGroupCoordinatorNotFound, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSConnectionError, KafkaJSProtocolError } = kafkajs as unknown as Record<string, ErrorClass>;

/** What the main thread sees of an error thrown on the producer thread. */
const crossed = (err: Error): Error => fromRemoteError(structuredClone(toRemoteError(err)));

describe('isBrokerOutage', () => {
  // A transaction's sendOffsets during a broker restart: kafkajs looks for the group coordinator
  // and gives up with a non-retriable error although the coordinator comes back with the broker.
  const coordinator = (): Error => new KafkaJSGroupCoordinatorNotFound!('Failed to find group coordinator');
  const gaveUp = (): Error => {
    const conn = new KafkaJSConnectionError!('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
    return new KafkaJSNumberOfRetriesExceeded!(conn, { retryCount: 5, retryTime: 1000, cause: conn });
  };

  it('is true for what a broker being away explains, in this thread and after crossing from the producer thread', () => {
    for (const err of [coordinator(), new KafkaJSNonRetriableError!(coordinator(), { cause: coordinator() }), gaveUp()]) {
      expect(isBrokerOutage(err)).toBe(true);
      expect(isBrokerOutage(crossed(err))).toBe(true);
    }
  });

  it('is false for what an operator or a developer must fix', () => {
    const denied = new KafkaJSProtocolError!({ message: 'Not authorized to access topics', type: 'TOPIC_AUTHORIZATION_FAILED', code: 29, retriable: false });
    for (const err of [new KafkaJSNonRetriableError!(denied, { cause: denied }), new Error('a bug of ours'), new TypeError('x is undefined')]) {
      expect(isBrokerOutage(err)).toBe(false);
      expect(isBrokerOutage(crossed(err))).toBe(false);
    }
  });
});
