/**
 * The producer thread (see producerThread.ts): kafkajs producers whose record encoding, CRCs and
 * partitioning run here instead of on the thread that forecasts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Producer, Transaction } from 'kafkajs';
import type { LogSink } from '../../observability/logger.js';
import { createKafka } from './kafkaClient.js';
import { producerConfig } from './outputProducer.js';
import { unpackTopicMessages } from './packedMessages.js';
import type { ProducerReply, ProducerRequest, ProducerWorkerInit } from './producerProtocol.js';
import { toRemoteError } from './remoteError.js';

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
const transactions = new Map<number, Transaction>();

function producer(pid: number): Producer {
  const p = producers.get(pid);
  if (p === undefined) throw new Error(`producer ${pid} is not connected`);
  return p;
}

function transaction(tid: number): Transaction {
  const t = transactions.get(tid);
  if (t === undefined) throw new Error(`transaction ${tid} is not open`);
  return t;
}

async function handle(req: ProducerRequest): Promise<void> {
  switch (req.op) {
    case 'connect': {
      let p = producers.get(req.pid);
      if (p === undefined) producers.set(req.pid, (p = kafka.producer(producerConfig(req.options))));
      await p.connect();
      return;
    }
    case 'disconnect': {
      const p = producers.get(req.pid);
      producers.delete(req.pid);
      await p?.disconnect();
      return;
    }
    case 'send':
      await producer(req.pid).sendBatch({ acks: -1, topicMessages: unpackTopicMessages(req.messages) });
      return;
    case 'transaction':
      transactions.set(req.tid, await producer(req.pid).transaction());
      return;
    case 'txnSend':
      await transaction(req.tid).sendBatch({ acks: -1, topicMessages: unpackTopicMessages(req.messages) });
      return;
    case 'txnOffsets':
      await transaction(req.tid).sendOffsets(req.offsets);
      return;
    case 'txnCommit':
      await transaction(req.tid).commit();
      return;
    case 'txnAbort':
      await transaction(req.tid).abort();
      return;
    case 'close': {
      const all = [...producers.values()];
      producers.clear();
      transactions.clear();
      await Promise.allSettled(all.map((p) => p.disconnect()));
      return;
    }
  }
}

port.on('message', (req: ProducerRequest) => {
  const tid = 'tid' in req ? req.tid : undefined;
  const active = (): { active?: boolean } => {
    if (tid === undefined) return {};
    const t = transactions.get(tid);
    const open = t?.isActive() ?? false;
    if (!open) transactions.delete(tid);
    return { active: open };
  };
  handle(req).then(
    () => post({ type: 'reply', id: req.id, ok: true, ...active() }),
    (err: unknown) => post({ type: 'reply', id: req.id, ok: false, error: toRemoteError(err), ...active() }),
  );
});
