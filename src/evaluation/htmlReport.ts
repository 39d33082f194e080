import type { BacktestSummary } from './backtestSummary.js';
import type { TracePoint } from './reportTrace.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const W = 960;
const PLOT_H = 320;
const PAD = { l: 64, r: 16, t: 16, b: 36 };

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (v: number | null | undefined, digits = 4) => (v === null || v === undefined ? '—' : Number(v.toPrecision(digits)).toString());

function scale(min: number, max: number, from: number, to: number): (v: number) => number {
  const span = max - min || 1;
  return (v) => from + ((v - min) / span) * (to - from);
}

function axisTicks(min: number, max: number, n = 5): number[] {
  return Array.from({ length: n + 1 }, (_, i) => min + ((max - min) * i) / n);
}

/** Forecast vs actual for one series, with each model's interval band (SVG). */
function tracePlot(points: readonly TracePoint[], models: readonly string[]): string {
  const values: number[] = [];
  for (const p of points) {
    if (p.actual !== null) values.push(p.actual);
    for (const m of models) {
      const b = p.models[m];
      if (b) values.push(b.lo, b.hi);
    }
  }
  if (points.length < 2 || values.length === 0) return '<p>Not enough points to plot.</p>';
  const [t0, t1] = [points[0]!.ts, points[points.length - 1]!.ts];
  const [v0, v1] = [Math.min(...values), Math.max(...values)];
  const x = scale(t0, t1, PAD.l, W - PAD.r);
  const y = scale(v0, v1, PLOT_H - PAD.b, PAD.t);
  let svg = `<svg viewBox="0 0 ${W} ${PLOT_H}" width="${W}" height="${PLOT_H}" role="img" aria-label="forecast vs actual">`;
  for (const v of axisTicks(v0, v1)) {
    svg += `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/><text x="${PAD.l - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${num(v, 4)}</text>`;
  }
  for (const t of axisTicks(t0, t1, 4)) {
    svg += `<text x="${x(t)}" y="${PLOT_H - 10}" text-anchor="middle" font-size="11">${new Date(t).toISOString().slice(0, 16).replace('T', ' ')}</text>`;
  }
  models.forEach((m, i) => {
    const color = COLORS[(i + 1) % COLORS.length]!;
    const pts = points.filter((p) => p.models[m]);
    if (pts.length < 2) return;
    const upper = pts.map((p) => `${x(p.ts)},${y(p.models[m]!.hi)}`);
    const lower = pts.map((p) => `${x(p.ts)},${y(p.models[m]!.lo)}`).reverse();
    svg += `<polygon points="${[...upper, ...lower].join(' ')}" fill="${color}" fill-opacity="0.15" stroke="none"/>`;
    svg += `<polyline points="${pts.map((p) => `${x(p.ts)},${y(p.models[m]!.mean)}`).join(' ')}" fill="none" stroke="${color}" stroke-width="1.2"/>`;
  });
  const actual = points.filter((p) => p.actual !== null);
  svg += `<polyline points="${actual.map((p) => `${x(p.ts)},${y(p.actual!)}`).join(' ')}" fill="none" stroke="#111" stroke-width="1.4"/>`;
  return `${svg}</svg>`;
}

/** Mean absolute error by horizon, one line per model (SVG). */
function horizonPlot(summary: BacktestSummary): string {
  const models = Object.keys(summary.models);
  const values = models.flatMap((m) => summary.models[m]!.mae.filter((v): v is number => v !== null));
  if (values.length === 0) return '<p>No scored cells.</p>';
  const x = scale(1, Math.max(2, summary.horizon), PAD.l, W - PAD.r);
  const y = scale(0, Math.max(...values), PLOT_H - PAD.b, PAD.t);
  let svg = `<svg viewBox="0 0 ${W} ${PLOT_H}" width="${W}" height="${PLOT_H}" role="img" aria-label="error by horizon">`;
  for (const v of axisTicks(0, Math.max(...values))) {
    svg += `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/><text x="${PAD.l - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${num(v, 4)}</text>`;
  }
  for (let h = 1; h <= summary.horizon; h++) svg += `<text x="${x(h)}" y="${PLOT_H - 10}" text-anchor="middle" font-size="11">h=${h}</text>`;
  models.forEach((m, i) => {
    const pts = summary.models[m]!.mae.map((v, k) => (v === null ? undefined : `${x(k + 1)},${y(v)}`)).filter(Boolean);
    svg += `<polyline points="${pts.join(' ')}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"/>`;
  });
  return `${svg}</svg>`;
}

function legend(names: readonly string[], offset = 0): string {
  return names
    .map((m, i) => `<span style="color:${COLORS[(i + offset) % COLORS.length]}">■</span> ${esc(m)}`)
    .join(' &nbsp; ');
}

/** A self-contained HTML page (no scripts, no external assets) for a backtest. */
export function renderHtmlReport(summary: BacktestSummary, trace: { series?: string; h: number; points: readonly TracePoint[]; models: readonly string[] }): string {
  const models = Object.keys(summary.models);
  const intervals = [...new Set(models.flatMap((m) => Object.keys(summary.models[m]!.coverage)))];
  const rows = models
    .map((m) => {
      const s = summary.models[m]!;
      const mase = s.mase.filter((v): v is number => v !== null);
      const smape = s.smape.filter((v): v is number => v !== null);
      const avg = (a: number[]) => (a.length ? a.reduce((p, c) => p + c, 0) / a.length : null);
      return `<tr><td>${esc(m)}${m === summary.best_baseline ? ' (best baseline)' : ''}</td><td>${num(s.maeMean)}</td><td>${num(avg(mase))}</td><td>${num(avg(smape))}</td>${intervals.map((k) => `<td>${num(s.coverage[k] ?? null, 3)}</td>`).join('')}</tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>streamcast backtest: ${esc(summary.pipeline)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;max-width:${W + 40}px}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}td:first-child,th:first-child{text-align:left}</style></head>
<body>
<h1>Backtest: ${esc(summary.pipeline)}</h1>
<p>Input ${esc(summary.input)} · ${summary.series} series · step ${summary.step / 60_000} min · horizon ${summary.horizon} · ${summary.scoredCells.toLocaleString('en-US')} scored cells (the same for every model) · warm-up ${summary.warmupSteps} steps per series.
Prequential: every forecast was made before the value it is scored on was seen.${summary.skill === null ? '' : ` Skill of the model vs the best baseline: <b>${(summary.skill * 100).toFixed(1)}%</b>.`}</p>
<table><thead><tr><th>model</th><th>MAE (mean over h)</th><th>MASE</th><th>sMAPE %</th>${intervals.map((k) => `<th>coverage ${esc(k)}</th>`).join('')}</tr></thead><tbody>
${rows}
</tbody></table>
<h2>Forecast vs actual${trace.series ? `: ${esc(trace.series)}` : ''}, ${trace.h} step${trace.h === 1 ? '' : 's'} ahead, newest ${trace.points.length} steps</h2>
<p>${legend(['actual'], 0).replace(/color:[^"]+/, 'color:#111')} &nbsp; ${legend(trace.models, 1)} (line: median, band: outer quantiles)</p>
${tracePlot(trace.points, trace.models)}
<h2>Error by horizon (MAE)</h2>
<p>${legend(models)}</p>
${horizonPlot(summary)}
</body></html>
`;
}
