import type { RecordSource } from '../domain/deadLetter.js';
import { errorText } from '../domain/errorText.js';
import { ConfigError } from '../domain/errors.js';
import { deadLetter } from './deadLetterOf.js';
import type { Decoded } from './decoded.js';
import { decodeInfluxLine, type InfluxPrecision } from './influxLine.js';
import { decodeJsonPoint } from './jsonPoint.js';

/** The codecs a pipeline spec may name (`input.codec`). */
export const CODEC_NAMES = ['json', 'influx-line'] as const;
export type CodecName = (typeof CODEC_NAMES)[number];

/** Turns one input record into points and dead letters. Never throws. */
export interface Decoder {
  readonly name: CodecName;
  /**
   * `fallbackTs`: the record's own timestamp (Kafka's), used by codecs whose lines may omit one
   * (`influx-line`); ignored by `json`, whose points must carry `ts`.
   */
  decode(payload: Uint8Array | string, key: Uint8Array | string | null, source: RecordSource, fallbackTs?: number): Decoded;
}

export interface DecoderOptions {
  /** Timestamp unit of `influx-line` records (ns by default). */
  readonly precision?: InfluxPrecision;
}

/**
 * The decoder of a codec. The codecs never throw by construction; the guard around them makes
 * that a guarantee: should one throw all the same (a bug), the record becomes an
 * `internal_error` dead letter with its original bytes instead of crashing the consumer, which
 * would then re-read the same record on every restart.
 */
export function decoderFor(name: CodecName, opts: DecoderOptions = {}): Decoder {
  switch (name) {
    case 'json':
      return { name, decode: guardedDecode(name, (payload, key, source) => decodeJsonPoint(payload, key, source)) };
    case 'influx-line': {
      const precision = opts.precision ?? 'ns';
      return {
        name,
        decode: guardedDecode(name, (payload, key, source, fallbackTs) =>
          decodeInfluxLine(payload, key, source, fallbackTs === undefined ? { precision } : { precision, fallbackTs }),
        ),
      };
    }
    default:
      // Reachable from untyped config (YAML); the spec schema should have caught it first.
      throw new ConfigError(`unknown codec ${JSON.stringify(name as string)}; use one of: ${CODEC_NAMES.join(', ')}`);
  }
}

/** Wraps a decode function so that a throw becomes an `internal_error` dead letter (see decoderFor). */
export function guardedDecode(name: CodecName, decode: Decoder['decode']): Decoder['decode'] {
  return (payload, key, source, fallbackTs) => {
    try {
      return decode(payload, key, source, fallbackTs);
    } catch (err) {
      return {
        points: [],
        deadLetters: [deadLetter('internal_error', `the ${name} decoder failed on this record (a streamcast bug; please report it): ${errorText(err)}`, source, payload)],
      };
    }
  };
}
