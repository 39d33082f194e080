import { decoderFor } from '../../codecs/codec.js';
import type { Ingested } from '../../domain/ingested.js';
import { LineScanner } from './lineScanner.js';
import { LineCursor, type RecordCursor } from './recordCursor.js';

/**
 * A cursor over a JSON-lines file: each non-blank line is one record decoded by the `json` codec
 * (an object, or an array of objects), with the line number as its offset. Its merge time is its
 * first point's time; a line without points keeps the previous line's time.
 */
export function jsonlCursor(path: string, partition: number, text: string): RecordCursor {
  return new JsonlCursor(path, partition, text);
}

// The guarded decoder, as for Kafka: a line it fails on is an internal_error dead letter.
const json = decoderFor('json');

class JsonlCursor extends LineCursor {
  constructor(
    private readonly path: string,
    private readonly partition: number,
    text: string,
  ) {
    super(new LineScanner(text));
    this.begin();
  }

  // Any JSON whitespace makes a line blank, not just spaces and tabs.
  protected override isBlankLine(line: string): boolean {
    return line.trim() === '';
  }

  protected decodeLine(line: string, lineNo: number): Ingested {
    const source = { topic: this.path, partition: this.partition, offset: String(lineNo), key: null };
    const { points, deadLetters } = json.decode(line, null, source);
    const first = points[0];
    if (first !== undefined) this.headTs = first.ts;
    return { points, deadLetters, position: { topic: this.path, partition: this.partition, offset: String(lineNo + 1) }, source, payload: line };
  }
}
