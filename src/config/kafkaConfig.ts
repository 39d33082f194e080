import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../domain/errors.js';

/** SASL mechanisms kafkajs supports without a custom authenticator. */
export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface KafkaTlsConfig {
  /** PEM file paths; undefined means the system trust store / no client certificate. */
  readonly caPath?: string;
  readonly certPath?: string;
  readonly keyPath?: string;
  /** false only for a test broker with a self-signed certificate. */
  readonly rejectUnauthorized: boolean;
}

export interface KafkaSaslConfig {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  readonly password: string;
}

/** How streamcast reaches Kafka; parsed once, frozen, passed in: no other module reads the environment for it. */
export interface KafkaConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly groupId: string;
  /** Where a new consumer group starts: earliest (true) or latest (false). */
  readonly fromBeginning: boolean;
  readonly ssl?: KafkaTlsConfig;
  readonly sasl?: KafkaSaslConfig;
  /** Partitions and replication factor of topics streamcast creates when absent. */
  readonly topicPartitions: number;
  readonly topicReplication: number;
  /** Consumer session timeout: how long a crashed instance holds its partitions (broker minimum 6000). */
  readonly sessionTimeoutMs: number;
  /**
   * Liveness: /healthz turns 503 when records wait in the assigned partitions and none has been
   * processed for this long (src/runtime/stallDetector.ts).
   */
  readonly stallTimeoutMs: number;
  /**
   * Checkpoint interval (state changelog, offsets; under exactly-once also when forecasts become
   * visible). Undefined: 100 ms under exactly-once (as Kafka Streams), 1000 ms under at-least-once.
   */
  readonly checkpointIntervalMs?: number;
  /**
   * Run the pipeline's output producers (forecasts, dead letters, state, transactions) on a
   * worker thread of their own (default true): kafkajs encodes records in JavaScript, and a
   * pipeline writes several times the bytes it reads. False keeps them on the main thread.
   */
  readonly producerThread: boolean;
}

/**
 * 10 s (kafkajs' default is 30 s): an instance killed with SIGKILL sends no LeaveGroup, and as
 * kafkajs 2.2.4 has no static membership (KIP-345, tulios/kafkajs#884), its partitions stay with
 * the dead member until its session expires, so this is how long a restarted instance waits for
 * them (measured: about 29 s at 30 s, bench/reassignmentAfterKill.ts). Heartbeats go every 3 s, so
 * a member survives two lost heartbeats; the cost is that an event loop blocked for 10 s (a very
 * long GC or batch) makes the group rebalance. The broker's floor is 6 s.
 */
export const DEFAULT_SESSION_TIMEOUT_MS = 10_000;

/**
 * 2 minutes: longer than anything a healthy consumer with a backlog may spend without taking a
 * record — a checkpoint that waits out kafkajs' retries of a 30 s request timeout, a fenced
 * exactly-once producer re-initialised behind a 30 s transaction timeout, a partition restore that
 * holds its records — and short enough that, with a probe's usual failure threshold, a wedged
 * instance is restarted within about 3 minutes. Kafka's own bound of the kind (max.poll.interval.ms)
 * is 5 minutes.
 */
export const DEFAULT_STALL_TIMEOUT_MS = 120_000;

/** Values that a command line (or a test) sets; they win over the environment. */
export interface KafkaOverrides {
  readonly pipeline: string;
  readonly brokers?: readonly string[];
  readonly groupId?: string;
  readonly clientId?: string;
  readonly fromBeginning?: boolean;
}

/** The environment variables read here, so that `--help` and error messages can list them. */
export const KAFKA_ENV_VARS = [
  'KAFKA_BROKERS',
  'KAFKA_CLIENT_ID',
  'KAFKA_GROUP_ID',
  'KAFKA_FROM_BEGINNING',
  'KAFKA_SSL',
  'KAFKA_SSL_CA',
  'KAFKA_SSL_CERT',
  'KAFKA_SSL_KEY',
  'KAFKA_SSL_REJECT_UNAUTHORIZED',
  'KAFKA_SASL_MECHANISM',
  'KAFKA_SASL_USERNAME',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_TOPIC_PARTITIONS',
  'KAFKA_TOPIC_REPLICATION',
  'KAFKA_SESSION_TIMEOUT_MS',
  'KAFKA_STALL_TIMEOUT_MS',
  'KAFKA_CHECKPOINT_INTERVAL_MS',
  'KAFKA_PRODUCER_THREAD',
] as const;

const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9._\-[\]:]+:\d{1,5}$/, 'host:port, e.g. 127.0.0.1:9092 (comma-separated for several brokers)');

const bool = (name: string) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .refine((s) => ['1', '0', 'true', 'false', 'yes', 'no', ''].includes(s), `${name} must be true or false (or 1/0)`)
    .transform((s) => s === '1' || s === 'true' || s === 'yes');

const positiveInt = (name: string) =>
  z
    .string()
    .trim()
    .regex(/^[1-9]\d{0,4}$/, `${name} must be a whole number ≥ 1`)
    .transform(Number);

const envSchema = z.object({
  KAFKA_BROKERS: z.string().optional(),
  KAFKA_CLIENT_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,255}$/, 'KAFKA_CLIENT_ID: letters, digits, . _ - (at most 255)')
    .optional(),
  KAFKA_GROUP_ID: z.string().min(1).max(255).optional(),
  KAFKA_FROM_BEGINNING: bool('KAFKA_FROM_BEGINNING').optional(),
  KAFKA_SSL: bool('KAFKA_SSL').optional(),
  KAFKA_SSL_CA: z.string().min(1).optional(),
  KAFKA_SSL_CERT: z.string().min(1).optional(),
  KAFKA_SSL_KEY: z.string().min(1).optional(),
  KAFKA_SSL_REJECT_UNAUTHORIZED: bool('KAFKA_SSL_REJECT_UNAUTHORIZED').optional(),
  KAFKA_SASL_MECHANISM: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(SASL_MECHANISMS, { message: `KAFKA_SASL_MECHANISM must be one of ${SASL_MECHANISMS.join(', ')}` }))
    .optional(),
  KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
  KAFKA_TOPIC_PARTITIONS: positiveInt('KAFKA_TOPIC_PARTITIONS').optional(),
  KAFKA_TOPIC_REPLICATION: positiveInt('KAFKA_TOPIC_REPLICATION').optional(),
  KAFKA_SESSION_TIMEOUT_MS: z
    .string()
    .trim()
    .regex(/^\d{4,7}$/, 'KAFKA_SESSION_TIMEOUT_MS must be milliseconds between 6000 and 3600000')
    .transform(Number)
    .refine((n) => n >= 6000 && n <= 3_600_000, 'KAFKA_SESSION_TIMEOUT_MS must be milliseconds between 6000 (the broker minimum) and 3600000')
    .optional(),
  KAFKA_STALL_TIMEOUT_MS: z
    .string()
    .trim()
    .regex(/^\d{1,8}$/, 'KAFKA_STALL_TIMEOUT_MS must be whole milliseconds, e.g. 120000')
    .transform(Number)
    .refine((n) => n >= 1000 && n <= 86_400_000, 'KAFKA_STALL_TIMEOUT_MS must be between 1000 ms and 86400000 ms (a day)')
    .optional(),
  KAFKA_CHECKPOINT_INTERVAL_MS: z
    .string()
    .trim()
    .regex(/^\d{1,7}$/, 'KAFKA_CHECKPOINT_INTERVAL_MS must be whole milliseconds, e.g. 500')
    .transform(Number)
    .refine((n) => n >= 10 && n <= 600_000, 'KAFKA_CHECKPOINT_INTERVAL_MS must be between 10 and 600000 ms')
    .optional(),
  KAFKA_PRODUCER_THREAD: bool('KAFKA_PRODUCER_THREAD').optional(),
});

/**
 * Parses the Kafka settings from `env` (pass `process.env` at the composition root, a literal in
 * tests) and `overrides` (command-line flags). Pure apart from checking that TLS files exist.
 * Every problem is reported at once in one ConfigError that names the variable and how to fix it.
 */
export function kafkaConfigFrom(env: Readonly<Record<string, string | undefined>>, overrides: KafkaOverrides): KafkaConfig {
  // Empty variables count as unset: `KAFKA_SSL= streamcast run` should not be an error.
  const present: Record<string, string> = {};
  for (const k of KAFKA_ENV_VARS) {
    const v = env[k];
    if (v !== undefined && v !== '') present[k] = v;
  }
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || 'environment'}: ${i.message}`);
    throw new ConfigError(`invalid Kafka settings in the environment:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const problems: string[] = [];

  const brokerList = overrides.brokers ?? (e.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (brokerList.length === 0) problems.push('KAFKA_BROKERS is empty; set it to host:port, e.g. 127.0.0.1:9092');
  for (const b of brokerList) {
    const r = hostPort.safeParse(b);
    if (!r.success) problems.push(`KAFKA_BROKERS entry ${JSON.stringify(b)} is not host:port, e.g. 127.0.0.1:9092`);
    else if (Number(b.slice(b.lastIndexOf(':') + 1)) > 65535) problems.push(`KAFKA_BROKERS entry ${JSON.stringify(b)}: port above 65535`);
  }

  const tlsFiles = { caPath: e.KAFKA_SSL_CA, certPath: e.KAFKA_SSL_CERT, keyPath: e.KAFKA_SSL_KEY };
  const anyTlsFile = Object.values(tlsFiles).some((v) => v !== undefined);
  const sslOn = e.KAFKA_SSL ?? anyTlsFile;
  if (!sslOn && anyTlsFile) problems.push('KAFKA_SSL_CA/CERT/KEY are set but KAFKA_SSL=false; remove them or set KAFKA_SSL=true');
  if ((tlsFiles.certPath === undefined) !== (tlsFiles.keyPath === undefined)) {
    problems.push('KAFKA_SSL_CERT and KAFKA_SSL_KEY go together (client certificate and its private key); set both or neither');
  }

  let sasl: KafkaSaslConfig | undefined;
  const user = e.KAFKA_SASL_USERNAME;
  const pass = e.KAFKA_SASL_PASSWORD;
  if (e.KAFKA_SASL_MECHANISM !== undefined) {
    if (user === undefined || pass === undefined) {
      problems.push(`KAFKA_SASL_MECHANISM=${e.KAFKA_SASL_MECHANISM} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`);
    } else sasl = Object.freeze({ mechanism: e.KAFKA_SASL_MECHANISM, username: user, password: pass });
  } else if (user !== undefined || pass !== undefined) {
    problems.push(`KAFKA_SASL_USERNAME/PASSWORD are set without KAFKA_SASL_MECHANISM; set it to one of ${SASL_MECHANISMS.join(', ')}`);
  }

  const replication = e.KAFKA_TOPIC_REPLICATION ?? 1;
  if (problems.length > 0) throw new ConfigError(`invalid Kafka settings:\n${problems.map((p) => `  ${p}`).join('\n')}`);

  return Object.freeze({
    brokers: Object.freeze([...brokerList]),
    clientId: overrides.clientId ?? e.KAFKA_CLIENT_ID ?? `streamcast-${overrides.pipeline}`,
    groupId: overrides.groupId ?? e.KAFKA_GROUP_ID ?? `streamcast-${overrides.pipeline}`,
    fromBeginning: overrides.fromBeginning ?? e.KAFKA_FROM_BEGINNING ?? true,
    ...(sslOn
      ? {
          ssl: Object.freeze({
            ...(tlsFiles.caPath !== undefined ? { caPath: tlsFiles.caPath } : {}),
            ...(tlsFiles.certPath !== undefined ? { certPath: tlsFiles.certPath } : {}),
            ...(tlsFiles.keyPath !== undefined ? { keyPath: tlsFiles.keyPath } : {}),
            rejectUnauthorized: e.KAFKA_SSL_REJECT_UNAUTHORIZED ?? true,
          }),
        }
      : {}),
    ...(sasl !== undefined ? { sasl } : {}),
    topicPartitions: e.KAFKA_TOPIC_PARTITIONS ?? 1,
    topicReplication: replication,
    sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS ?? DEFAULT_SESSION_TIMEOUT_MS,
    stallTimeoutMs: e.KAFKA_STALL_TIMEOUT_MS ?? DEFAULT_STALL_TIMEOUT_MS,
    ...(e.KAFKA_CHECKPOINT_INTERVAL_MS !== undefined ? { checkpointIntervalMs: e.KAFKA_CHECKPOINT_INTERVAL_MS } : {}),
    producerThread: e.KAFKA_PRODUCER_THREAD ?? true,
  });
}

/** Reads the PEM files named by `ssl`; a missing or unreadable one is a ConfigError naming the variable. */
export function readTlsFiles(ssl: KafkaTlsConfig): { ca?: string[]; cert?: string; key?: string; rejectUnauthorized: boolean } {
  const read = (path: string, envVar: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`${envVar}=${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'}); point it at a PEM file`, { cause: err });
    }
  };
  return {
    ...(ssl.caPath !== undefined ? { ca: [read(ssl.caPath, 'KAFKA_SSL_CA')] } : {}),
    ...(ssl.certPath !== undefined ? { cert: read(ssl.certPath, 'KAFKA_SSL_CERT') } : {}),
    ...(ssl.keyPath !== undefined ? { key: read(ssl.keyPath, 'KAFKA_SSL_KEY') } : {}),
    rejectUnauthorized: ssl.rejectUnauthorized,
  };
}
