import type { Worker } from 'node:worker_threads';
import type { TopicMessages } from 'kafkajs';
import type { KafkaConfig } from '../../config/kafkaConfig.js';
import { StreamcastError } from '../../domain/errors.js';
import type { LogSink } from '../../observability/logger.js';
import { spawnWorker } from '../../platform/spawnWorker.js';
import type { OutputProducer, OutputProducerOptions, ProducerFactory } from './outputProducer.js';
import { type PackedMessages, packedTransferList, packTopicMessages } from './packedMessages.js';
import type { ProducerReply, ProducerRequest, ProducerWorkerInit } from './producerProtocol.js';
import { fromRemoteError } from './remoteError.js';

/** A request before it is numbered (Omit over each member of the union). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Call = WithoutId<ProducerRequest>;

interface Waiting {
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export interface ProducerThreadOptions {
  readonly cfg: KafkaConfig;
  readonly logger: LogSink;
  readonly clientIdSuffix?: string;
  /** Forward kafkajs' debug lines from the thread (they cost a message each). */
  readonly debug?: boolean;
}

/**
 * kafkajs producers on a worker thread of their own. A pipeline writes several times the bytes it
 * reads (forecasts, state records), and kafkajs builds every record in JavaScript: a Buffer per
 * record, a CRC32C over every byte, a murmur2 per key. On the forecasting thread that was about a
 * third of the CPU of a run; here it overlaps with the forecasting. Messages cross packed into one
 * transferred buffer per request (packedMessages.ts); errors cross with their classification
 * (remoteError.ts), so callers retry and detect fencing exactly as with in-process producers.
 *
 * The thread starts with the first producer that connects and is referenced only while a request
 * is outstanding, so it never keeps a finished process alive. If it dies, every outstanding and
 * later request fails as fatal: the pipeline stops without committing past unwritten output.
 */
export class ProducerThread implements ProducerFactory {
  #worker: Worker | undefined;
  #nextId = 1;
  #nextProducer = 1;
  readonly #waiting = new Map<number, Waiting>();
  #dead: Error | undefined;
  #closing: Promise<void> | undefined;

  constructor(private readonly opts: ProducerThreadOptions) {}

  producer(options: OutputProducerOptions): OutputProducer {
    const pid = this.#nextProducer++;
    const thread = this;
    return {
      connect: async () => void (await thread.#call({ op: 'connect', pid, options })),
      disconnect: async () => {
        if (thread.#worker === undefined || thread.#closing !== undefined) return;
        await thread.#call({ op: 'disconnect', pid });
      },
      sendBatch: ({ topicMessages }) => thread.#send(pid, topicMessages),
      initTransactions: async () => void (await thread.#call({ op: 'initTransactions', pid })),
      transact: async ({ requests, offsets }) => {
        // Requests packed here move to the thread; ones the caller packed are copied, so that the
        // caller can send them again if the transaction has to be retried.
        const fresh: PackedMessages[] = [];
        const packed = requests.map((r) => {
          if (!Array.isArray(r)) return r;
          const p = packTopicMessages(r);
          fresh.push(p);
          return p;
        });
        const call = { op: 'transact' as const, pid, requests: packed, ...(offsets !== undefined ? { offsets } : {}) };
        await thread.#call(call, fresh.flatMap(packedTransferList));
      },
    };
  }

  #send(pid: number, topicMessages: TopicMessages[]): Promise<void> {
    const messages = packTopicMessages(topicMessages);
    return this.#call({ op: 'send', pid, messages }, packedTransferList(messages));
  }

  #call(call: Call, transfer: ArrayBuffer[] = []): Promise<void> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    if (this.#closing !== undefined && call.op !== 'close') return Promise.reject(new StreamcastError('fatal', 'the Kafka producer thread is closing'));
    const worker = this.#ensureWorker();
    const id = this.#nextId++;
    return new Promise<void>((resolve, reject) => {
      if (this.#waiting.size === 0) worker.ref();
      this.#waiting.set(id, { resolve, reject });
      worker.postMessage({ ...call, id } as ProducerRequest, transfer);
    });
  }

  #ensureWorker(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const init: ProducerWorkerInit = {
      cfg: this.opts.cfg,
      debug: this.opts.debug ?? false,
      ...(this.opts.clientIdSuffix !== undefined ? { clientIdSuffix: this.opts.clientIdSuffix } : {}),
    };
    const w = spawnWorker(import.meta.url, 'producerWorker', init);
    w.unref();
    w.on('message', (m: ProducerReply) => this.#onMessage(m));
    w.on('error', (err) => this.#die(new StreamcastError('fatal', `the Kafka producer thread failed: ${err.message}`, { cause: err })));
    w.on('exit', (code) => {
      if (this.#closing === undefined) this.#die(new StreamcastError('fatal', `the Kafka producer thread exited (code ${code})`));
    });
    this.#worker = w;
    return w;
  }

  #onMessage(m: ProducerReply): void {
    if (m.type === 'log') {
      if (m.level === 'warn') this.opts.logger.warn(m.fields, m.msg);
      else this.opts.logger.debug(m.fields, m.msg);
      return;
    }
    const w = this.#waiting.get(m.id);
    if (w === undefined) return;
    this.#waiting.delete(m.id);
    if (this.#waiting.size === 0) this.#worker?.unref();
    if (m.ok) w.resolve();
    else w.reject(fromRemoteError(m.error));
  }

  #die(err: Error): void {
    this.#dead ??= err;
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const w of waiting) w.reject(this.#dead);
    this.opts.logger.error({ err }, err.message);
  }

  /** Disconnects every producer and ends the thread; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const w = this.#worker;
      if (w === undefined) return;
      if (this.#dead === undefined) await this.#call({ op: 'close' }).catch(() => undefined);
      await w.terminate();
      this.#dead ??= new StreamcastError('fatal', 'the Kafka producer thread is closed');
      for (const waiting of this.#waiting.values()) waiting.reject(this.#dead);
      this.#waiting.clear();
    })();
    return this.#closing;
  }
}
