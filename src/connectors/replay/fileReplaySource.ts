import { asyncScheduler, Observable, Subject, type SchedulerLike, type Subscription } from 'rxjs';
import type { Clock } from '../../domain/clock.js';
import { ConfigError } from '../../domain/errors.js';
import type { Point } from '../../domain/point.js';
import type { Ingested } from '../../domain/ingested.js';
import type { Position } from '../../domain/position.js';
import type { Source } from '../source.js';
import type { CsvOptions } from './csvFile.js';
import { applyFaults, createPointFault, hasFaults, type FaultOptions, type PointFault } from './faults.js';
import { MergeByTime } from './mergeByTime.js';
import { cursorOf, readInputText, type FileFormat } from './readSeriesFile.js';

export interface FileReplayOptions {
  readonly paths: readonly string[];
  readonly format?: FileFormat;
  /**
   * Event-time speed-up: 60 replays an hour of data per minute. Undefined or 0: as fast as
   * possible.
   */
  readonly speed?: number;
  /** Cap on records per second (undefined: no cap). */
  readonly rate?: number;
  /** Stop after this many records. */
  readonly limit?: number;
  /** Records emitted before yielding to the event loop (default 512). */
  readonly chunkSize?: number;
  readonly csv?: CsvOptions;
  /** Name wide CSV columns `<stem>.<column>`; defaults to true when several files are replayed. */
  readonly qualifySeries?: boolean;
  readonly faults?: FaultOptions;
  /** Timers for the paced modes (speed, rate); tests pass a virtual-time scheduler. */
  readonly scheduler?: SchedulerLike;
  /** How the as-fast-as-possible mode yields to the event loop; default `setImmediate`. */
  readonly yieldToLoop?: (resume: () => void) => void;
}

/**
 * Replays CSV or JSON-lines files as a Source: several files are merged by event time into one
 * stream (stable: equal times in file order), e.g. the ten NAB realTweets files become one
 * interleaved ten-series stream. One `Ingested` per input row; its position is
 * `{ topic: <path>, partition: <file index>, offset: <line number + 1> }`.
 *
 * Emission starts once `start()` has read the files AND `records()` has a subscriber, in either
 * order (one consumer is expected; later subscribers see only later records). Without pacing it
 * emits `chunkSize` records at a time and yields to the event loop in between, so SIGINT
 * handlers and `pause()` take effect; `pause()` called from inside a subscriber stops the very
 * next record. With `speed` or `rate` it paces by the scheduler, and time spent paused does not
 * cause a burst afterwards. `stop()` completes the stream. Files are read whole into memory.
 */
export class FileReplaySource implements Source {
  readonly name: string;
  private readonly subject = new Subject<Ingested>();
  private readonly scheduler: SchedulerLike;
  private readonly clock: Clock;
  private readonly yieldToLoop: (resume: () => void) => void;
  private readonly chunkSize: number;
  private readonly fault: PointFault | undefined;
  private starting?: Promise<void>;
  private merge?: MergeByTime;
  private total = 0;
  private emitted = 0;
  private subscribers = 0;
  private paused = false;
  private pausedAt = 0;
  private finished = false;
  private scheduled = false;
  private timer?: Subscription;
  // Pacing anchors: wall time and event time of the first paced record.
  private paceWall = Number.NaN;
  private paceTs = 0;
  private rateWall = Number.NaN;
  private rateCount = 0;
  private readonly lastCommitted = new Map<string, Position>();
  // Offsets emitted and not yet committed, per file (partition), oldest first from `head`: what
  // `processed()` counts down as commits arrive. Bounded by the records in flight.
  private readonly inFlight = new Map<number, { offsets: number[]; head: number }>();
  private committedCount = 0;

  constructor(
    private readonly opts: FileReplayOptions,
    deps: { clock?: Clock } = {},
  ) {
    validate(opts);
    this.name = `file:${opts.paths.join(',')}`;
    this.scheduler = opts.scheduler ?? asyncScheduler;
    this.clock = deps.clock ?? { now: () => this.scheduler.now() };
    this.yieldToLoop = opts.yieldToLoop ?? ((resume) => void setImmediate(resume));
    this.chunkSize = opts.chunkSize ?? 512;
    this.fault = hasFaults(opts.faults) ? createPointFault(opts.faults as FaultOptions) : undefined;
  }

  records(): Observable<Ingested> {
    return new Observable<Ingested>((subscriber) => {
      const inner = this.subject.subscribe(subscriber);
      this.subscribers++;
      this.kick();
      return () => {
        inner.unsubscribe();
        this.subscribers--;
      };
    });
  }

  start(): Promise<void> {
    this.starting ??= this.load().then(
      () => this.kick(),
      (err: unknown) => {
        this.finished = true;
        this.subject.error(err);
        throw err;
      },
    );
    return this.starting;
  }

  async stop(): Promise<void> {
    this.finish();
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.pausedAt = this.clock.now();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    // Shift the pacing anchors by the pause, so a paced replay continues rather than bursts.
    const gap = this.clock.now() - this.pausedAt;
    this.paceWall += gap;
    this.rateWall += gap;
    this.kick();
  }

  async commit(positions: readonly Position[]): Promise<void> {
    for (const p of positions) {
      const k = `${p.partition}\u0000${p.topic}`;
      const prev = this.lastCommitted.get(k);
      if (prev === undefined || Number(p.offset) > Number(prev.offset)) this.lastCommitted.set(k, p);
      const q = this.inFlight.get(p.partition);
      if (q === undefined) continue;
      // A committed position names the next record to read: every emitted record before it is done.
      const upTo = Number(p.offset);
      while (q.head < q.offsets.length && q.offsets[q.head]! < upTo) {
        q.head++;
        this.committedCount++;
      }
      if (q.head > 4096 && q.head * 2 > q.offsets.length) {
        q.offsets.splice(0, q.head);
        q.head = 0;
      }
    }
  }

  /** The highest committed position per file, in file order. */
  committed(): Position[] {
    return [...this.lastCommitted.values()].sort((a, b) => a.partition - b.partition);
  }

  /** Fraction of the input's rows emitted so far, in [0, 1]. */
  progress(): number {
    if (this.finished && this.merge?.done) return 1;
    if (this.total === 0) return this.merge ? 1 : 0;
    return Math.min(1, this.emitted / this.total);
  }

  /**
   * Fraction of the input's rows whose processing is committed, in [0, 1]: unlike `progress()`,
   * it does not run ahead of the pipeline (records read ahead wait in its buffers).
   */
  processed(): number {
    if (this.total === 0) return this.merge ? 1 : 0;
    return Math.min(1, this.committedCount / this.total);
  }

  /** Records emitted so far. */
  get emittedCount(): number {
    return this.emitted;
  }

  private track(position: Position): void {
    let q = this.inFlight.get(position.partition);
    if (q === undefined) this.inFlight.set(position.partition, (q = { offsets: [], head: 0 }));
    // The offset of the record itself: its position names the next one (as in build.ts ownOffset).
    q.offsets.push(Number(position.offset) - 1);
  }

  private async load(): Promise<void> {
    const { paths } = this.opts;
    const texts = await Promise.all(paths.map((p) => readInputText(p)));
    const qualify = this.opts.qualifySeries ?? paths.length > 1;
    const csv: CsvOptions = { ...this.opts.csv, qualifySeries: this.opts.csv?.qualifySeries ?? qualify };
    const cursors = paths.map((p, i) => cursorOf(p, i, texts[i] as string, { ...(this.opts.format ? { format: this.opts.format } : {}), csv }));
    this.total = cursors.reduce((n, c) => n + c.totalRecords, 0);
    if (this.opts.limit !== undefined) this.total = Math.min(this.total, this.opts.limit);
    this.merge = new MergeByTime(cursors);
  }

  /** Schedules a pump on the next turn of the event loop unless one is pending. */
  private kick(): void {
    if (this.scheduled || this.finished || !this.merge) return;
    this.scheduled = true;
    this.yieldToLoop(this.pump);
  }

  // An arrow property: one closure for the source's lifetime, none per record or chunk.
  private readonly pump = (): void => {
    this.scheduled = false;
    this.timer = undefined;
    const merge = this.merge;
    if (merge === undefined || this.finished) return;
    const paced = (this.opts.speed ?? 0) > 0 || (this.opts.rate ?? 0) > 0;
    const limit = this.opts.limit ?? Infinity;
    for (let n = 0; n < this.chunkSize; n++) {
      if (this.paused || this.subscribers === 0 || this.finished) return; // resume()/subscribe re-kick
      if (merge.done || this.emitted >= limit) {
        this.finish();
        return;
      }
      if (paced) {
        const wait = this.waitMs(merge.headTs);
        if (wait > 0) {
          this.scheduled = true;
          this.timer = this.scheduler.schedule(this.pump, wait);
          return;
        }
      }
      const record = merge.take();
      this.emitted++;
      this.track(record.position);
      this.rateCount++;
      this.subject.next(this.fault ? applyFaults(record, this.fault) : record);
    }
    this.kick();
  };

  /** Milliseconds until the next record is due under `speed` and `rate`; <= 0 when due. */
  private waitMs(ts: number): number {
    const now = this.clock.now();
    let due = now;
    const speed = this.opts.speed ?? 0;
    if (speed > 0) {
      if (Number.isNaN(this.paceWall)) {
        this.paceWall = now;
        this.paceTs = ts;
      }
      due = Math.max(due, this.paceWall + (ts - this.paceTs) / speed);
    }
    const rate = this.opts.rate ?? 0;
    if (rate > 0) {
      if (Number.isNaN(this.rateWall)) {
        this.rateWall = now;
        this.rateCount = 0;
      }
      due = Math.max(due, this.rateWall + (this.rateCount * 1000) / rate);
    }
    return due - now;
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.timer?.unsubscribe();
    this.timer = undefined;
    this.subject.complete();
  }
}

function validate(opts: FileReplayOptions): void {
  if (opts.paths.length === 0) throw new ConfigError('no input file given; pass --input <file.csv|file.jsonl> (repeatable)');
  const check = (name: string, v: number | undefined, ok: (v: number) => boolean, hint: string) => {
    if (v !== undefined && !ok(v)) throw new ConfigError(`${name} ${v} is invalid: ${hint}`);
  };
  check('speed', opts.speed, (v) => Number.isFinite(v) && v >= 0, 'use a positive speed-up factor such as 60, or 0 for as fast as possible');
  check('rate', opts.rate, (v) => Number.isFinite(v) && v > 0, 'use a positive number of records per second such as 1000');
  check('limit', opts.limit, (v) => Number.isInteger(v) && v >= 0, 'use a whole number of records');
  check('chunkSize', opts.chunkSize, (v) => Number.isInteger(v) && v >= 1, 'use a whole number of at least 1');
  const drop = opts.faults?.drop;
  check('drop', drop, (v) => v >= 0 && v < 1, 'use a fraction in [0, 1) such as 0.1');
}
