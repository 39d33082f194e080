import type { DeadLetter, DeadLetterReason, RecordSource } from '../domain/deadLetter.js';
import { MAX_PAYLOAD_BYTES, utf8OrUndefined } from './payloadText.js';

/**
 * A dead letter keeps at most this much of an oversized payload, so that the dead letter itself
 * still fits in a Kafka message (1 MB by default); the message says it was truncated.
 */
export const DEAD_LETTER_PAYLOAD_KEEP_BYTES = 64 * 1024;

/**
 * Bad parts (array elements, lines) of one record that get a dead letter each; the rest share
 * one that carries the whole record. Without it a 1 MiB record of `[0,0,…]` became half a
 * million dead letters.
 */
export const MAX_DEAD_LETTERS_PER_RECORD = 100;

/**
 * Builds the dead-letter message of DESIGN.md. The payload is kept as UTF-8 text when the bytes
 * are valid UTF-8, else base64 with `encoding: 'base64'`. Never throws.
 */
export function deadLetter(
  reason: DeadLetterReason,
  message: string,
  source: RecordSource,
  payload: Uint8Array | string,
): DeadLetter {
  if (typeof payload === 'string') {
    if (payload.length <= MAX_PAYLOAD_BYTES / 3) return { reason, message, source, payload };
    const bytes = Buffer.from(payload, 'utf8');
    if (bytes.byteLength <= MAX_PAYLOAD_BYTES) return { reason, message, source, payload };
    return truncated(reason, message, source, bytes);
  }
  if (payload.byteLength > MAX_PAYLOAD_BYTES) return truncated(reason, message, source, payload);
  const text = utf8OrUndefined(payload);
  if (text !== undefined) return { reason, message, source, payload: text };
  return { reason, message, source, payload: base64(payload), encoding: 'base64' };
}

function truncated(
  reason: DeadLetterReason,
  message: string,
  source: RecordSource,
  bytes: Uint8Array,
): DeadLetter {
  // Back off to a UTF-8 character boundary so that text payloads stay text.
  let end = DEAD_LETTER_PAYLOAD_KEEP_BYTES;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  const head = bytes.subarray(0, end);
  const note = `${message} (payload truncated to its first ${end} of ${bytes.byteLength} bytes)`;
  const text = utf8OrUndefined(head);
  if (text !== undefined) return { reason, message: note, source, payload: text };
  return { reason, message: note, source, payload: base64(head), encoding: 'base64' };
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
