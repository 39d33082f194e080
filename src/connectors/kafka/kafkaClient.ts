import kafkajs, { Kafka, logLevel, type KafkaConfig as KafkaJsConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import { readTlsFiles, type KafkaConfig } from '../../config/kafkaConfig.js';
import type { LogSink } from '../../observability/logger.js';

/**
 * The one place a kafkajs client is configured: brokers, TLS, SASL, and kafkajs' own log lines
 * routed into our logger (kafkajs would otherwise print JSON to stdout, where forecasts may go).
 */
export function createKafka(cfg: KafkaConfig, logger: LogSink, opts: { clientIdSuffix?: string } = {}): Kafka {
  const ssl = cfg.ssl === undefined ? undefined : readTlsFiles(cfg.ssl);
  const sasl: SASLOptions | undefined =
    cfg.sasl === undefined ? undefined : { mechanism: cfg.sasl.mechanism, username: cfg.sasl.username, password: cfg.sasl.password };
  const config: KafkaJsConfig = {
    clientId: opts.clientIdSuffix === undefined ? cfg.clientId : `${cfg.clientId}-${opts.clientIdSuffix}`,
    brokers: [...cfg.brokers],
    connectionTimeout: 3000,
    requestTimeout: 30_000,
    // Client-level retries are short: the caller's own retry loop (with logging and readiness)
    // handles long outages, so that a dead broker is reported within seconds, not minutes.
    retry: { initialRetryTime: 300, retries: 5, maxRetryTime: 5000 },
    logLevel: logLevel.INFO,
    logCreator: () => (entry: LogEntry) => kafkaLog(logger, entry),
    ...(ssl !== undefined ? { ssl } : {}),
    ...(sasl !== undefined ? { sasl } : {}),
  };
  return new Kafka(config);
}

function kafkaLog(logger: LogSink, entry: LogEntry): void {
  const { message, timestamp, ...extra } = entry.log;
  void timestamp;
  // At debug level whatever kafkajs thinks: it logs every failed connection attempt as an error,
  // a flood during an outage. Our retry loops and the consumer crash handler log one clear line
  // per attempt instead; `--log-level debug` shows kafkajs' detail.
  logger.debug({ kafkajs: entry.namespace, kafkajsLevel: entry.level, ...extra }, `kafkajs: ${message}`);
}

/**
 * kafkajs marks every error it throws with `retriable`; anything else (our bugs) is not.
 * The class of an error is data (`retriable`, `cause`): never its name or message, whose wording is
 * no contract.
 */
export function isRetriableKafkaError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { retriable?: unknown; retryCount?: unknown; cause?: unknown };
  if (e.retriable === true) return true;
  // kafkajs gives up after its own retries with a non-retriable "retries exceeded" error whose
  // cause is the (retriable) connection error; a longer outer retry may still succeed.
  return typeof e.retryCount === 'number' && e.cause !== err && isRetriableKafkaError(e.cause);
}

/** kafkajs protocol errors carry the broker's error code name in `type` (e.g. REBALANCE_IN_PROGRESS). */
export function kafkaErrorType(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('type' in err)) return undefined;
  const t = (err as { type: unknown }).type;
  return typeof t === 'string' ? t : undefined;
}

/**
 * True when the error or one of its causes (at most five deep) satisfies `test`: kafkajs wraps
 * what the broker said in errors of its own (retries exceeded, non-retriable bail-outs).
 */
export function inCauseChain(err: unknown, test: (e: object) => boolean): boolean {
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    if (test(e)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** True when the error or one of its causes carries a broker error code in `types`. */
export function hasKafkaErrorType(err: unknown, types: ReadonlySet<string>): boolean {
  return inCauseChain(err, (e) => {
    const t = kafkaErrorType(e);
    return t !== undefined && types.has(t);
  });
}

// kafkajs is CommonJS and Node's ESM loader does not see this class as a named export.
const { KafkaJSGroupCoordinatorNotFound } = kafkajs;
// Errors that crossed from the producer thread are plain Errors carrying the class's name
// (remoteError.ts), so the class is recognised by the name kafkajs gives its instances too.
// (Its typings take no argument, but its constructor reads the message's fields.)
const COORDINATOR_NOT_FOUND = new (KafkaJSGroupCoordinatorNotFound as unknown as new (message: string) => Error)('probe').name;

/**
 * A failure that a broker being away explains, so that waiting and retrying is the cure: a
 * retriable kafkajs error anywhere in the cause chain (kafkajs gives up after its own retries with
 * a non-retriable wrapper around the retriable connection error), or kafkajs' "group coordinator
 * not found", which it classes as non-retriable although a broker restart produces it (consumer
 * joins and transactions' offset commits both hit it until the offsets topic is loaded again).
 * The one outage test of the consumer, the output producers and the checkpoint transactions.
 */
export function isBrokerOutage(err: unknown): boolean {
  return inCauseChain(err, (e) => isRetriableKafkaError(e) || e instanceof KafkaJSGroupCoordinatorNotFound || (e as { name?: unknown }).name === COORDINATOR_NOT_FOUND);
}
