import { displayName } from './backtestSummary.js';
import type { FixedOriginSummary } from './fixedOriginScorer.js';
import { formatNumber } from './formatTable.js';

/**
 * Renders a fixed-origin summary for the terminal: one row per model with mean sMAPE (percent),
 * MASE and OWA (against Naive2), sMAPE at the first, middle and last horizon, and interval
 * coverage. The pipeline's model is labelled as what served it.
 */
export function formatFixedOriginTable(summary: FixedOriginSummary): string {
  const H = summary.horizon;
  const picks = [...new Set([1, Math.max(1, Math.round(H / 2)), H])];
  const pairKeys = [...new Set(Object.values(summary.models).flatMap((m) => Object.keys(m.coverage)))];
  const header = ['model', 'sMAPE%', 'MASE', 'OWA', ...picks.map((h) => `sMAPE h=${h}`), ...pairKeys.map((k) => `cov ${k}`)];
  const label = (name: string): string => displayName(name, { served: summary.served, inSample: null });
  const rows = Object.entries(summary.models).map(([name, m]) => [
    label(name),
    formatNumber(m.smapeMean),
    formatNumber(m.maseMean),
    formatNumber(m.owa),
    ...picks.map((h) => formatNumber(m.smape[h - 1] ?? null)),
    ...pairKeys.map((k) => formatNumber(m.coverage[k] ?? null)),
  ]);
  const table = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  const line = (r: readonly string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  const rule = widths.map((w) => '─'.repeat(w)).join('  ');
  const title =
    `backtest --origin end: ${summary.pipeline}${summary.partial ? ' (PARTIAL: interrupted)' : ''} on ${summary.input}: ${summary.series} series, ` +
    `step ${summary.step} ms, horizon ${H}, ${summary.scoredCells} scored cells; m = ${summary.seasonSteps}`;
  const footer = `OWA = ½ (sMAPE / sMAPE(naive2) + MASE / MASE(naive2)); naive2 found ${summary.naive2Seasonal} of ${summary.series} series seasonal` +
    (summary.training === null ? '' : `; training on the histories: ${summary.training.outcome} (${summary.training.reason})`);
  return [title, line(header), rule, ...rows.map(line), footer].join('\n');
}
