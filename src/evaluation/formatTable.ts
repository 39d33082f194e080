import { displayName, type BacktestSummary } from './backtestSummary.js';

/** A number in ≤ 7 characters or so: 4 significant digits, exponent form only when needed. */
export function formatNumber(x: number | null): string {
  if (x === null) return '–';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-3) return x.toExponential(2);
  if (a >= 1000) return x.toFixed(0);
  return x.toPrecision(4);
}

function mean(xs: readonly (number | null)[]): number | null {
  let s = 0;
  let n = 0;
  for (const x of xs) {
    if (x !== null) {
      s += x;
      n++;
    }
  }
  return n === 0 ? null : s / n;
}

/**
 * Renders a backtest summary for the terminal: one row per model; MAE per horizon, mean MAE,
 * mean MASE, mean sMAPE, interval coverage per pair, and skill against the best baseline
 * (1 − maeMean / maeMean(best baseline); the best baseline's own skill is 0). A header line
 * states the run and a footer the best baseline and the model's skill. The pipeline's model is
 * labelled as what served (its baseline when no GRU did; in-sample when scored on its training data).
 */
export function formatTable(summary: BacktestSummary): string {
  const H = summary.horizon;
  const pairKeys = [...new Set(Object.values(summary.models).flatMap((m) => Object.keys(m.coverage)))];
  const header = [
    'model',
    ...Array.from({ length: H }, (_, i) => `h=${i + 1}`),
    'MAE',
    'MASE',
    'sMAPE%',
    ...pairKeys.map((k) => `cov ${k}`),
    'skill',
  ];
  const bestMae = summary.best_baseline === null ? null : (summary.models[summary.best_baseline]?.maeMean ?? null);
  const rows = Object.entries(summary.models).map(([name, m]) => {
    const skill = bestMae !== null && bestMae > 0 && m.maeMean !== null ? 1 - m.maeMean / bestMae : null;
    return [
      displayName(name, summary),
      ...Array.from({ length: H }, (_, i) => formatNumber(m.mae[i] ?? null)),
      formatNumber(m.maeMean),
      formatNumber(mean(m.mase)),
      formatNumber(mean(m.smape)),
      ...pairKeys.map((k) => formatNumber(m.coverage[k] ?? null)),
      skill === null ? '–' : `${skill >= 0 ? '+' : ''}${(skill * 100).toFixed(1)}%`,
    ];
  });
  const table = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  const line = (r: readonly string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  const rule = widths.map((w) => '─'.repeat(w)).join('  ');
  const title =
    `backtest ${summary.pipeline}${summary.partial === true ? ' (PARTIAL: interrupted)' : ''} on ${summary.input}: ${summary.series} series, step ${summary.step} ms, ` +
    `horizon ${H}, ${summary.scoredCells} scored cells (warm-up ${summary.warmupSteps} steps)`;
  const footer =
    `best baseline: ${summary.best_baseline ?? '–'}` +
    (summary.skill === null ? '' : `; skill of ${displayName('gru', summary)} vs best baseline: ${(summary.skill * 100).toFixed(1)}%`);
  return [title, line(header), rule, ...rows.map(line), footer].join('\n');
}
