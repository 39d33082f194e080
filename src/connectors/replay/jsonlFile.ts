import { decodeJsonPoint } from '../../codecs/jsonPoint.js';
import type { Ingested } from '../source.js';
import { LineScanner } from './lineScanner.js';
import type { RecordCursor } from './recordCursor.js';

/**
 * A cursor over a JSON-lines file: each non-blank line is one record decoded by the `json` codec
 * (an object, or an array of objects), with the line number as its offset. Its merge time is its
 * first point's time; a line without points keeps the previous line's time.
 */
export function jsonlCursor(path: string, partition: number, text: string): RecordCursor {
  return new JsonlCursor(path, partition, text);
}

class JsonlCursor implements RecordCursor {
  done = false;
  headTs = 0;
  readonly totalRecords: number;
  private readonly lines: LineScanner;
  private next: Ingested | undefined;

  constructor(
    private readonly path: string,
    private readonly partition: number,
    text: string,
  ) {
    this.lines = new LineScanner(text);
    this.totalRecords = this.lines.remainingLines();
    this.advance();
  }

  take(): Ingested {
    const out = this.next as Ingested;
    this.advance();
    return out;
  }

  private advance(): void {
    for (;;) {
      const line = this.lines.nextLine();
      if (line === undefined) {
        this.next = undefined;
        this.done = true;
        return;
      }
      if (line.trim() === '') continue;
      const lineNo = this.lines.lineNo;
      const { points, deadLetters } = decodeJsonPoint(line, null, {
        topic: this.path,
        partition: this.partition,
        offset: String(lineNo),
        key: null,
      });
      const first = points[0];
      if (first !== undefined) this.headTs = first.ts;
      this.next = { points, deadLetters, position: { topic: this.path, partition: this.partition, offset: String(lineNo + 1) } };
      return;
    }
  }
}
