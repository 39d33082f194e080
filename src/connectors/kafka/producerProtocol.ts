import type { KafkaConfig } from '../../config/kafkaConfig.js';
import type { OutputProducerOptions } from './outputProducer.js';
import type { PackedMessages } from './packedMessages.js';
import type { RemoteError } from './remoteError.js';
import type { TransactionWork } from './runTransaction.js';

/** What the producer thread starts with (plain data). */
export interface ProducerWorkerInit {
  readonly cfg: KafkaConfig;
  readonly clientIdSuffix?: string;
  /** Forward kafkajs' (debug-level) log lines; off unless the parent logs at debug. */
  readonly debug: boolean;
}

/** Requests to the producer thread; each is answered once with the same `id`. */
export type ProducerRequest =
  | { readonly op: 'connect'; readonly id: number; readonly pid: number; readonly options: OutputProducerOptions }
  | { readonly op: 'disconnect'; readonly id: number; readonly pid: number }
  | { readonly op: 'send'; readonly id: number; readonly pid: number; readonly messages: PackedMessages }
  | { readonly op: 'initTransactions'; readonly id: number; readonly pid: number }
  | { readonly op: 'transact'; readonly id: number; readonly pid: number; readonly requests: readonly PackedMessages[]; readonly offsets?: TransactionWork['offsets'] }
  | { readonly op: 'close'; readonly id: number };

export type ProducerReply =
  | { readonly type: 'reply'; readonly id: number; readonly ok: true }
  | { readonly type: 'reply'; readonly id: number; readonly ok: false; readonly error: RemoteError }
  /** kafkajs' lines at debug (when `debug`); sends waiting for a broker that is away at warn. */
  | { readonly type: 'log'; readonly level?: 'debug' | 'warn'; readonly msg: string; readonly fields: Record<string, unknown> };
