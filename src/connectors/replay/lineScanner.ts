/**
 * Walks a text line by line without splitting it into an array first (a 100 MB file would
 * double its memory). Accepts `\n` and `\r\n`; strips a leading byte-order mark. Line numbers
 * are 1-based, as editors show them.
 */
export class LineScanner {
  private pos: number;
  private readonly start: number;
  /** 1-based number of the line last returned. */
  lineNo = 0;

  constructor(private readonly text: string) {
    this.start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
    this.pos = this.start;
  }

  nextLine(): string | undefined {
    const text = this.text;
    if (this.pos > text.length || (this.pos === text.length && this.pos !== this.start)) return undefined;
    if (text.length === this.start) {
      this.pos = text.length + 1;
      return undefined;
    }
    let nl = text.indexOf('\n', this.pos);
    if (nl < 0) nl = text.length;
    const end = nl > this.pos && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
    const line = text.slice(this.pos, end);
    this.pos = nl + 1;
    this.lineNo++;
    return line;
  }

  /** The next line with something other than spaces or tabs on it. */
  nextNonBlank(): string | undefined {
    for (;;) {
      const line = this.nextLine();
      if (line === undefined || line.trim() !== '') return line;
    }
  }

  /** Steps back before the line last returned (used once, for headerless files). */
  rewind(): void {
    const prevNl = this.text.lastIndexOf('\n', this.pos - 2);
    this.pos = prevNl < this.start ? this.start : prevNl + 1;
    this.lineNo--;
  }

  /** Lines left after the current position (a trailing newline does not start another line). */
  remainingLines(): number {
    const text = this.text;
    if (this.pos >= text.length) return 0;
    let n = 0;
    let i = this.pos;
    for (;;) {
      const nl = text.indexOf('\n', i);
      if (nl < 0) return i < text.length ? n + 1 : n;
      n++;
      i = nl + 1;
    }
  }
}
