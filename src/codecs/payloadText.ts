/**
 * Byte-level helpers shared by the codecs. Nothing here throws: Kafka hands us whatever bytes a
 * producer wrote, and a bad record must become a dead letter, never an exception.
 */

/** Records above this size are rejected unparsed (`too_large`): parsing them would stall the loop. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

// fatal: invalid UTF-8 must be detected, not replaced with U+FFFD. ignoreBOM keeps a BOM in the
// text (dead letters carry the original bytes); parsers call stripBom.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The bytes as text when they are valid UTF-8, else `undefined`. */
export function utf8OrUndefined(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch (err) {
    // TextDecoder signals invalid input with a TypeError; any failure means "not UTF-8" here.
    void err;
    return undefined;
  }
}

/**
 * True when the payload's UTF-8 encoding exceeds MAX_PAYLOAD_BYTES. Avoids encoding the string
 * in the common cases: a UTF-16 unit encodes to at least 1 and at most 3 UTF-8 bytes.
 */
export function exceedsPayloadLimit(payload: Uint8Array | string): boolean {
  if (typeof payload !== 'string') return payload.byteLength > MAX_PAYLOAD_BYTES;
  if (payload.length > MAX_PAYLOAD_BYTES) return true;
  if (payload.length * 3 <= MAX_PAYLOAD_BYTES) return false;
  return Buffer.byteLength(payload, 'utf8') > MAX_PAYLOAD_BYTES;
}

/**
 * A message key as text: valid UTF-8 keys as they are, binary keys as `base64:<...>` so that the
 * dead-letter `source.key` field (a string) can still carry them. `null` stays `null`.
 */
export function keyText(key: Uint8Array | string | null | undefined): string | null {
  if (key === null || key === undefined) return null;
  if (typeof key === 'string') return key;
  const text = utf8OrUndefined(key);
  return text ?? `base64:${Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('base64')}`;
}

/** Strips a leading byte-order mark, which `JSON.parse` and the line parsers would reject. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
