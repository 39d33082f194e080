import type { Ingested } from '../../domain/ingested.js';
import type { RecordCursor } from './recordCursor.js';

/**
 * K-way merge of per-file cursors by event time, stable: equal times come out in file order
 * (lower index first), and each file's own order is kept. A binary heap of cursor indices keyed
 * by (headTs, index): O(log k) per record, no allocation per record.
 */
export class MergeByTime {
  private readonly heap: number[] = [];

  constructor(private readonly cursors: readonly RecordCursor[]) {
    for (let i = 0; i < cursors.length; i++) {
      if (!(cursors[i] as RecordCursor).done) this.push(i);
    }
  }

  get done(): boolean {
    return this.heap.length === 0;
  }

  /** Event time of the next record; meaningless when `done`. */
  get headTs(): number {
    return (this.cursors[this.heap[0] as number] as RecordCursor).headTs;
  }

  /** The next record in time order. Call only when not `done`. */
  take(): Ingested {
    const top = this.heap[0] as number;
    const cursor = this.cursors[top] as RecordCursor;
    const record = cursor.take();
    if (cursor.done) {
      const last = this.heap.pop() as number;
      if (this.heap.length > 0) {
        this.heap[0] = last;
        this.siftDown(0);
      }
    } else {
      this.siftDown(0);
    }
    return record;
  }

  private less(a: number, b: number): boolean {
    const ta = (this.cursors[a] as RecordCursor).headTs;
    const tb = (this.cursors[b] as RecordCursor).headTs;
    return ta < tb || (ta === tb && a < b);
  }

  private push(i: number): void {
    const h = this.heap;
    h.push(i);
    let k = h.length - 1;
    while (k > 0) {
      const parent = (k - 1) >> 1;
      if (!this.less(h[k] as number, h[parent] as number)) break;
      [h[k], h[parent]] = [h[parent] as number, h[k] as number];
      k = parent;
    }
  }

  private siftDown(k: number): void {
    const h = this.heap;
    const n = h.length;
    for (;;) {
      const l = 2 * k + 1;
      if (l >= n) return;
      const r = l + 1;
      const m = r < n && this.less(h[r] as number, h[l] as number) ? r : l;
      if (!this.less(h[m] as number, h[k] as number)) return;
      const t = h[k] as number;
      h[k] = h[m] as number;
      h[m] = t;
      k = m;
    }
  }
}
