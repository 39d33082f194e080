import { Writable } from 'node:stream';
import cliProgress from 'cli-progress';

export interface Progress {
  /** `fraction` of the whole job done, in [0, 1]; `detail` is shown after the bar (numbers get thousands separators). */
  update(fraction: number, detail?: Record<string, string | number>): void;
  /** What is under way (e.g. `replay`, `retrain 3: epoch 2/5`), shown after the bar. */
  phase(name: string): void;
  /**
   * Where log lines go while the bar is shown (a pino destination): each line is written above
   * the bar, which is redrawn below it, so a line never lands glued onto the bar.
   */
  readonly logStream: Writable;
  stop(): void;
}

export interface ProgressOptions {
  readonly quiet?: boolean;
  readonly stream?: NodeJS.WriteStream;
  /** Wall clock in ms (tests inject one). */
  readonly now?: () => number;
}

/**
 * Time left from the fraction done and the time it took, averaged over the whole job (so the
 * time spent in slow phases, e.g. retrains, is counted in proportion). Undefined while there is
 * too little to go on (under 1 % done or under 2 s), never NaN or Infinity.
 */
export function estimateRemainingMs(fraction: number, elapsedMs: number): number | undefined {
  if (!Number.isFinite(fraction) || !Number.isFinite(elapsedMs) || fraction < 0.01 || elapsedMs < 2000) return undefined;
  if (fraction >= 1) return 0;
  const ms = (elapsedMs * (1 - fraction)) / fraction;
  return Number.isFinite(ms) ? ms : undefined;
}

/** `ETA 42 s`, `ETA 3 min 05 s`, `ETA 2 h 04 min`; `ETA –` when unknown. */
export function formatEta(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return 'ETA –';
  const s = Math.round(ms / 1000);
  if (s < 60) return `ETA ${s} s`;
  if (s < 3600) return `ETA ${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `ETA ${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/**
 * Progress for long work on stderr (stdout carries results): a bar on a terminal, a line every
 * 10% otherwise (CI logs, pipes), nothing when `quiet`. The time left is computed here
 * (estimateRemainingMs), not by cli-progress, whose own estimate breaks when the rate stalls.
 */
export function createProgress(label: string, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? (() => performance.now());
  const passThrough = lineWriter((chunk) => {
    stream.write(chunk);
  });
  if (opts.quiet) return { update: () => undefined, phase: () => undefined, logStream: passThrough, stop: () => undefined };
  const started = now();
  let phase = label;
  let fraction = 0;
  let detail: Record<string, string | number> | undefined;
  const payload = () => ({ info: [phase === label ? '' : phase, formatDetail(detail), formatEta(estimateRemainingMs(fraction, now() - started))].filter(Boolean).join(' | ') });
  if (stream.isTTY) {
    let multi: cliProgress.MultiBar | undefined;
    let bar: cliProgress.SingleBar | undefined;
    let stopped = false;
    const ensure = (): void => {
      if (multi !== undefined || stopped) return;
      // gracefulExit off: the command's own signal handling stops the bar (a listener here would
      // also change how Node treats SIGINT).
      multi = new cliProgress.MultiBar({ format: `${label} [{bar}] {percentage}% | {info}`, stream, hideCursor: true, gracefulExit: false, clearOnComplete: false }, cliProgress.Presets.shades_classic);
      bar = multi.create(1000, 0, payload());
    };
    return {
      update: (f, d) => {
        fraction = Math.min(1, Math.max(0, Number.isFinite(f) ? f : 0));
        detail = d;
        ensure();
        bar?.update(Math.round(fraction * 1000), payload());
      },
      phase: (name) => {
        phase = name;
        bar?.update(payload());
      },
      logStream: lineWriter((chunk) => {
        if (multi === undefined || stopped) {
          stream.write(chunk);
          return;
        }
        // Logged above the bar and the bar redrawn at once (MultiBar.update flushes its log buffer).
        multi.log(chunk.endsWith('\n') ? chunk : `${chunk}\n`);
        multi.update();
      }),
      stop: () => {
        if (stopped) return;
        stopped = true;
        multi?.stop();
      },
    };
  }
  let nextDecile = 1;
  return {
    update: (f, d) => {
      fraction = Math.min(1, Math.max(0, Number.isFinite(f) ? f : 0));
      detail = d;
      while (fraction * 10 >= nextDecile && nextDecile <= 10) {
        const p = payload();
        stream.write(`${label}: ${nextDecile * 10}% | ${p.info}\n`);
        nextDecile++;
      }
    },
    phase: (name) => {
      phase = name;
    },
    logStream: passThrough,
    stop: () => undefined,
  };
}

function formatDetail(detail?: Record<string, string | number>): string {
  if (!detail) return '';
  return Object.entries(detail)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? Math.round(v).toLocaleString('en-US') : v}`)
    .join(' ');
}

/**
 * A Writable whose every chunk is handed to `write` at once, synchronously: pino and pino-pretty
 * need a real stream as destination, and the bar must be redrawn right after each line.
 */
function lineWriter(write: (chunk: string) => void): Writable {
  return new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, done) {
      write(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
      done();
    },
  });
}
