import cliProgress from 'cli-progress';

export interface Progress {
  update(fraction: number, detail?: Record<string, string | number>): void;
  stop(): void;
}

/**
 * Progress for long work on stderr (stdout carries results): a bar on a terminal, a line every
 * 10% otherwise (CI logs, pipes), nothing when `quiet`.
 */
export function createProgress(label: string, opts: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet) return { update: () => undefined, stop: () => undefined };
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% | {eta_formatted} left | {info}`, stream, hideCursor: true, etaBuffer: 50 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(1000, 0, { info: '' });
    return {
      update: (f, detail) => bar.update(Math.round(Math.min(1, Math.max(0, f)) * 1000), { info: formatDetail(detail) }),
      stop: () => bar.stop(),
    };
  }
  let nextDecile = 1;
  return {
    update: (f, detail) => {
      while (f * 10 >= nextDecile && nextDecile <= 10) {
        stream.write(`${label}: ${nextDecile * 10}% ${formatDetail(detail)}\n`);
        nextDecile++;
      }
    },
    stop: () => undefined,
  };
}

function formatDetail(detail?: Record<string, string | number>): string {
  if (!detail) return '';
  return Object.entries(detail)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? Math.round(v).toLocaleString('en-US') : v}`)
    .join(' ');
}
