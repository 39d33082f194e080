import { inject } from 'vitest';
import { describeWhen } from './describeWhen.js';
import { SETUP_COMMAND } from './tools.js';

/**
 * Real servers for integration tests: a Kafka broker, Prometheus and InfluxDB. test/helpers/globalSetup.ts
 * reuses running ones (KAFKA_BROKERS, PROMETHEUS_URL, INFLUX_URL) or starts them with
 * deploy/kafka/kafka.sh and deploy/services/services.sh, and hands their addresses to the workers.
 * Without one, the tests that need it skip with a message — except on CI, where a missing server
 * is a broken runner and must fail loudly.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string | undefined;
    prometheusUrl: string | undefined;
    influxUrl: string | undefined;
  }
}

interface Service {
  readonly label: string;
  readonly envVar: string;
  readonly key: 'kafkaBrokers' | 'prometheusUrl' | 'influxUrl';
  readonly howToStart: string;
}

const KAFKA: Service = {
  label: 'Kafka broker',
  envVar: 'KAFKA_BROKERS',
  key: 'kafkaBrokers',
  howToStart: `install Java 17 with \`${SETUP_COMMAND}\` (the test run then starts a broker), or set KAFKA_BROKERS`,
};
const PROMETHEUS: Service = {
  label: 'Prometheus',
  envVar: 'PROMETHEUS_URL',
  key: 'prometheusUrl',
  howToStart: `install it with \`${SETUP_COMMAND}\` (or: apt-get install -y --no-install-recommends prometheus), or set PROMETHEUS_URL`,
};
const INFLUX: Service = {
  label: 'InfluxDB',
  envVar: 'INFLUX_URL',
  key: 'influxUrl',
  howToStart: `install it with \`${SETUP_COMMAND}\` (or: apt-get install -y --no-install-recommends influxdb), or set INFLUX_URL`,
};

// The environment wins so that a test run pointed at an outside server never reaches for the
// one the global setup may have started (and workers spawned without the setup still work).
function address(s: Service): string | undefined {
  const fromEnv = process.env[s.envVar];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const provided = inject(s.key);
  return provided === undefined || provided === '' ? undefined : provided;
}

function required(s: Service): string {
  const a = address(s);
  if (a === undefined) throw new Error(`no ${s.label} for this test run (${s.envVar} unset); ${s.howToStart}`);
  return a;
}

/** Why there is no `s` for this run (one line with the fix), or undefined when there is one. */
function problem(s: Service): string | undefined {
  return address(s) === undefined ? `no ${s.label} (${s.envVar} unset and the global setup started none); ${s.howToStart}` : undefined;
}

function describeWith(s: Service, name: string, fn: () => void): void {
  describeWhen(name, [problem(s)], fn);
}

/** Why there is no broker for this run, or undefined; for suites with more requirements (describeWhen). */
export function kafkaProblem(): string | undefined {
  return problem(KAFKA);
}

/** `host:port[,host:port…]` of the broker for this run, or undefined when there is none. */
export function kafkaBrokers(): string | undefined {
  return address(KAFKA);
}

/** Brokers as kafkajs wants them; throws when there is no broker (call it inside a describeWithKafka). */
export function requireKafkaBrokers(): string[] {
  return required(KAFKA).split(',');
}

export function describeWithKafka(name: string, fn: () => void): void {
  describeWith(KAFKA, name, fn);
}

/** Base URL of Prometheus (`http://127.0.0.1:9090`), or undefined. */
export function prometheusUrl(): string | undefined {
  return address(PROMETHEUS);
}

export function requirePrometheusUrl(): string {
  return required(PROMETHEUS);
}

export function describeWithPrometheus(name: string, fn: () => void): void {
  describeWith(PROMETHEUS, name, fn);
}

/** Base URL of InfluxDB 1.x (`http://127.0.0.1:8086`), or undefined. */
export function influxUrl(): string | undefined {
  return address(INFLUX);
}

export function requireInfluxUrl(): string {
  return required(INFLUX);
}

export function describeWithInflux(name: string, fn: () => void): void {
  describeWith(INFLUX, name, fn);
}
