import { describe, expect, it } from 'vitest';
import { kafkaConfigFrom } from '../../../src/config/kafkaConfig.js';
import { ConfigError } from '../../../src/domain/errors.js';

const base = { pipeline: 'cpu-load' };

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('kafkaConfigFrom', () => {
  it('defaults: local broker, group and client named after the pipeline, earliest, no TLS/SASL, frozen', () => {
    const c = kafkaConfigFrom({}, base);
    expect(c).toEqual({
      brokers: ['127.0.0.1:9092'],
      clientId: 'streamcast-cpu-load',
      groupId: 'streamcast-cpu-load',
      fromBeginning: true,
      topicPartitions: 1,
      topicReplication: 1,
      sessionTimeoutMs: 10_000,
      stallTimeoutMs: 120_000,
      producerThread: true,
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.brokers)).toBe(true);
  });

  it('reads the environment; empty variables count as unset; overrides win', () => {
    const env = {
      KAFKA_BROKERS: 'k1:9092, k2:9093',
      KAFKA_GROUP_ID: 'g',
      KAFKA_CLIENT_ID: 'c',
      KAFKA_FROM_BEGINNING: 'false',
      KAFKA_SSL: '',
      KAFKA_TOPIC_PARTITIONS: '6',
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      KAFKA_PRODUCER_THREAD: 'false',
      KAFKA_STALL_TIMEOUT_MS: '30000',
    };
    const c = kafkaConfigFrom(env, base);
    expect(c.producerThread).toBe(false);
    expect(c.stallTimeoutMs).toBe(30_000);
    expect(c.brokers).toEqual(['k1:9092', 'k2:9093']);
    expect([c.groupId, c.clientId, c.fromBeginning, c.ssl, c.topicPartitions, c.sessionTimeoutMs]).toEqual(['g', 'c', false, undefined, 6, 6000]);
    const o = kafkaConfigFrom(env, { ...base, brokers: ['b:1'], groupId: 'flag', fromBeginning: true });
    expect([o.brokers, o.groupId, o.fromBeginning]).toEqual([['b:1'], 'flag', true]);
  });

  it('SASL and TLS', () => {
    const c = kafkaConfigFrom(
      { KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p', KAFKA_SSL: 'true', KAFKA_SSL_CA: '/ca.pem' },
      base,
    );
    expect(c.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'u', password: 'p' });
    expect(c.ssl).toEqual({ caPath: '/ca.pem', rejectUnauthorized: true });
    // A CA file alone turns TLS on.
    expect(kafkaConfigFrom({ KAFKA_SSL_CA: '/ca.pem' }, base).ssl?.caPath).toBe('/ca.pem');
  });

  it.each([
    [{ KAFKA_BROKERS: 'localhost' }, /KAFKA_BROKERS entry "localhost" is not host:port/],
    [{ KAFKA_BROKERS: 'h:99999' }, /port above 65535/],
    [{ KAFKA_SSL: 'maybe' }, /KAFKA_SSL must be true or false/],
    [{ KAFKA_SASL_MECHANISM: 'kerberos' }, /KAFKA_SASL_MECHANISM must be one of plain, scram-sha-256, scram-sha-512/],
    [{ KAFKA_SASL_MECHANISM: 'plain' }, /needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/],
    [{ KAFKA_SASL_USERNAME: 'u' }, /without KAFKA_SASL_MECHANISM/],
    [{ KAFKA_SSL: 'false', KAFKA_SSL_CA: '/ca.pem' }, /KAFKA_SSL=false/],
    [{ KAFKA_SSL_CERT: '/c.pem' }, /KAFKA_SSL_CERT and KAFKA_SSL_KEY go together/],
    [{ KAFKA_TOPIC_PARTITIONS: '0' }, /KAFKA_TOPIC_PARTITIONS must be a whole number ≥ 1/],
    [{ KAFKA_SESSION_TIMEOUT_MS: '100' }, /KAFKA_SESSION_TIMEOUT_MS/],
    [{ KAFKA_STALL_TIMEOUT_MS: '500' }, /KAFKA_STALL_TIMEOUT_MS must be between 1000 ms/],
    [{ KAFKA_STALL_TIMEOUT_MS: '2m' }, /KAFKA_STALL_TIMEOUT_MS must be whole milliseconds/],
    [{ KAFKA_FROM_BEGINNING: 'earliest' }, /KAFKA_FROM_BEGINNING must be true or false/],
    [{ KAFKA_PRODUCER_THREAD: 'auto' }, /KAFKA_PRODUCER_THREAD must be true or false/],
  ])('rejects %j with a ConfigError that says how to fix it', (env, message) => {
    const err = configError(() => kafkaConfigFrom(env, base));
    expect(err.kind).toBe('config');
    expect(err.message).toMatch(message);
  });

  it('reports every problem at once', () => {
    const err = configError(() => kafkaConfigFrom({ KAFKA_BROKERS: 'nope', KAFKA_SASL_USERNAME: 'u' }, base));
    expect(err.message).toMatch(/nope/);
    expect(err.message).toMatch(/KAFKA_SASL_MECHANISM/);
  });
});
