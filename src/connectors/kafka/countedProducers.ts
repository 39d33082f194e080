import type { EventListener } from '../../observability/events.js';
import type { OutputProducer, ProducerFactory } from './outputProducer.js';

/**
 * Producers of `factory` whose failed writes (a produce request or a transaction that failed
 * after kafkajs' own retries) become `sink_error` events for `streamcast_sink_errors_total`.
 * A producer fails every later call with its first error (OutputProducer's contract); that one
 * error is counted once, not once per call it fails.
 */
export function countedProducers(factory: ProducerFactory, events: EventListener): ProducerFactory {
  return {
    producer: (options) => {
      const p = factory.producer(options);
      const counted = new WeakSet<object>();
      const count = (err: unknown): never => {
        const key = typeof err === 'object' && err !== null ? err : undefined;
        if (key === undefined || !counted.has(key)) {
          if (key !== undefined) counted.add(key);
          events({ type: 'sink_error', sink: 'kafka', count: 1 });
        }
        throw err;
      };
      const wrapped: OutputProducer = {
        connect: () => p.connect(),
        disconnect: () => p.disconnect(),
        initTransactions: () => p.initTransactions(),
        sendBatch: (batch) => p.sendBatch(batch).catch(count),
        transact: (work) => p.transact(work).catch(count),
      };
      return wrapped;
    },
    close: () => factory.close(),
  };
}
