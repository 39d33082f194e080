import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { crashFromOutage } from '../../../../src/connectors/kafka/kafkaSource.js';

// kafkajs' constructors as its retrier calls them (its type declarations are narrower).
type ErrorClass = new (...args: unknown[]) => Error;
const { KafkaJSGroupCoordinatorNotFound, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSConnectionError, KafkaJSProtocolError } = kafkajs as unknown as Record<string, ErrorClass>;

describe('crashFromOutage', () => {
  it('restarts after what a broker being away explains', () => {
    // What kafkajs' retrier throws when the coordinator is not back after a broker restart.
    const coordinator = new KafkaJSGroupCoordinatorNotFound!('Failed to find group coordinator');
    expect(crashFromOutage(new KafkaJSNonRetriableError!(coordinator, { cause: coordinator }))).toBe(true);
    const conn = new KafkaJSConnectionError!('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
    expect(crashFromOutage(new KafkaJSNumberOfRetriesExceeded!(conn, { retryCount: 5, retryTime: 1000, cause: conn }))).toBe(true);
  });

  it('stops on what an operator must fix', () => {
    const denied = new KafkaJSProtocolError!({ message: 'Not authorized to access topics', type: 'TOPIC_AUTHORIZATION_FAILED', code: 29, retriable: false });
    expect(crashFromOutage(new KafkaJSNonRetriableError!(denied, { cause: denied }))).toBe(false);
    expect(crashFromOutage(new Error('a bug of ours'))).toBe(false);
  });
});
