import type { RecordSource } from '../domain/deadLetter.js';
import { ConfigError } from '../domain/errors.js';
import type { Decoded } from './decoded.js';
import { decodeInfluxLine, type InfluxPrecision } from './influxLine.js';
import { decodeJsonPoint } from './jsonPoint.js';

export type CodecName = 'json' | 'influx-line';

export const CODEC_NAMES: readonly CodecName[] = ['json', 'influx-line'];

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

export function decoderFor(name: CodecName, opts: DecoderOptions = {}): Decoder {
  switch (name) {
    case 'json':
      return { name, decode: (payload, key, source) => decodeJsonPoint(payload, key, source) };
    case 'influx-line': {
      const precision = opts.precision ?? 'ns';
      return {
        name,
        decode: (payload, key, source, fallbackTs) =>
          decodeInfluxLine(payload, key, source, fallbackTs === undefined ? { precision } : { precision, fallbackTs }),
      };
    }
    default:
      // Reachable from untyped config (YAML); the spec schema should have caught it first.
      throw new ConfigError(`unknown codec ${JSON.stringify(name as string)}; use one of: ${CODEC_NAMES.join(', ')}`);
  }
}
