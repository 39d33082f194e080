import type { Offsets } from 'kafkajs';
import type { KafkaConfig } from '../../config/kafkaConfig.js';
import type { OutputProducerOptions } from './outputProducer.js';
import type { PackedMessages } from './packedMessages.js';
import type { RemoteError } from './remoteError.js';

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
  | { readonly op: 'transaction'; readonly id: number; readonly pid: number; readonly tid: number }
  | { readonly op: 'txnSend'; readonly id: number; readonly tid: number; readonly messages: PackedMessages }
  | { readonly op: 'txnOffsets'; readonly id: number; readonly tid: number; readonly offsets: Offsets & { consumerGroupId: string } }
  | { readonly op: 'txnCommit' | 'txnAbort'; readonly id: number; readonly tid: number }
  | { readonly op: 'close'; readonly id: number };

/** `active`: for transaction requests, whether the transaction is still open afterwards. */
export type ProducerReply =
  | { readonly type: 'reply'; readonly id: number; readonly ok: true; readonly active?: boolean }
  | { readonly type: 'reply'; readonly id: number; readonly ok: false; readonly error: RemoteError; readonly active?: boolean }
  | { readonly type: 'log'; readonly msg: string; readonly fields: Record<string, unknown> };
