/**
 * The producer thread (see producerThread.ts): kafkajs producers whose record encoding, CRCs and
 * partitioning run here instead of on the thread that forecasts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Producer } from 'kafkajs';
import { StreamcastError } from '../../domain/errors.js';
import type { LogSink } from '../../observability/logger.js';
import { createKafka } from './kafkaClient.js';
import { producerConfig, serialSends } from './outputProducer.js';
import { type PackedMessages, unpackTopicMessages } from './packedMessages.js';
import type { ProducerReply, ProducerRequest, ProducerWorkerInit } from './producerProtocol.js';
import { toRemoteError } from './remoteError.js';
import { initTransactions, runTransaction } from './runTransaction.js';

const port = parentPort!;
const init = workerData as ProducerWorkerInit;

const post = (m: ProducerReply): void => port.postMessage(m);

function debug(fields: unknown, msg?: string): void {
  if (!init.debug) return;
  // Log fields may hold what structured cloning refuses (errors, sockets): send their JSON.
  let plain: Record<string, unknown>;
  try {
    plain = JSON.parse(JSON.stringify(fields ?? {}, (_k, v: unknown) => (v instanceof Error ? toRemoteError(v) : v))) as Record<string, unknown>;
  } catch {
    plain = {};
  }
  post({ type: 'log', msg: msg ?? '', fields: plain });
}
const noop = (): void => undefined;
const logger = { debug, info: noop, warn: noop, error: noop } as unknown as LogSink;

const kafka = createKafka(init.cfg, logger, init.clientIdSuffix !== undefined ? { clientIdSuffix: init.clientIdSuffix } : {});
const producers = new Map<number, Producer>();
/** Per producer: its sends in order, one at a time (OutputProducer's contract). */
const sends = new Map<number, (messages: PackedMessages) => Promise<unknown>>();
/** Per producer: aborted on disconnect, ending a send's wait for a broker that is away. */
const waits = new Map<number, AbortController>();

function stopWaiting(pid: number): void {
  waits.get(pid)?.abort(new StreamcastError('retriable', 'Kafka producer disconnected while waiting for the broker'));
  waits.delete(pid);
}

function producer(pid: number): Producer {
  const p = producers.get(pid);
  if (p === undefined) throw new Error(`producer ${pid} is not connected`);
  return p;
}

async function handle(req: ProducerRequest): Promise<void> {
  switch (req.op) {
    case 'connect': {
      let p = producers.get(req.pid);
      if (p === undefined) {
        const created = kafka.producer(producerConfig(req.options));
        const disconnected = new AbortController();
        producers.set(req.pid, (p = created));
        waits.set(req.pid, disconnected);
        sends.set(
          req.pid,
          serialSends((m: PackedMessages) => created.sendBatch({ acks: -1, topicMessages: unpackTopicMessages(m) }), {
            signal: disconnected.signal,
            onRetry: ({ attempt, delayMs, error }) =>
              post({ type: 'log', level: 'warn', msg: `Kafka producer: send failed while the broker is away; sending it again in ${(delayMs / 1000).toFixed(1)} s`, fields: { attempt: attempt + 1, delayMs, err: toRemoteError(error) } }),
          }),
        );
      }
      await p.connect();
      return;
    }
    case 'disconnect': {
      const p = producers.get(req.pid);
      producers.delete(req.pid);
      sends.delete(req.pid);
      stopWaiting(req.pid);
      await p?.disconnect();
      return;
    }
    case 'send': {
      const send = sends.get(req.pid);
      if (send === undefined) throw new Error(`producer ${req.pid} is not connected`);
      await send(req.messages);
      return;
    }
    case 'initTransactions':
      await initTransactions(producer(req.pid));
      return;
    case 'transact': {
      const requests = req.requests.map(unpackTopicMessages);
      await runTransaction(producer(req.pid), req.offsets === undefined ? { requests } : { requests, offsets: req.offsets });
      return;
    }
    case 'close': {
      const all = [...producers.values()];
      producers.clear();
      sends.clear();
      for (const pid of [...waits.keys()]) stopWaiting(pid);
      await Promise.allSettled(all.map((p) => p.disconnect()));
      return;
    }
  }
}

port.on('message', (req: ProducerRequest) => {
  handle(req).then(
    () => post({ type: 'reply', id: req.id, ok: true }),
    (err: unknown) => post({ type: 'reply', id: req.id, ok: false, error: toRemoteError(err) }),
  );
});
