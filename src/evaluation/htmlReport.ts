import { displayName, type BacktestSummary } from './backtestSummary.js';
import type { SeriesScores } from './prequentialScorer.js';
import { colorScale, detailSpec, horizonSpec, overviewSpec } from './reportCharts.js';
import type { SeriesTrace } from './reportTrace.js';

/** Everything a report shows besides the summary's scores. */
export interface ReportInput {
  readonly summary: BacktestSummary;
  /** Traced series (ReportTrace.toArray()), the target first. */
  readonly traces: readonly SeriesTrace[];
  /** The models in the traces, the pipeline's model first. */
  readonly traced: readonly string[];
  /** What the trace's line is: the 0.5 quantile, or the mean when it is not a quantile level. */
  readonly centre: 'median' | 'mean';
  /** Symmetric quantile pairs, outermost first (e.g. "0.1-0.9"). */
  readonly pairs: readonly string[];
  /** Numbers per horizon in the traces' forecasts (ReportTrace.stride). */
  readonly stride: number;
  readonly seriesScores: readonly SeriesScores[];
  /** Distinct series in the run (the traces hold at most a capped number). */
  readonly seriesSeen: number;
  readonly meta: {
    readonly command: string;
    readonly specPath: string;
    readonly specText: string;
    /** First and last event time of the input (ms), when known. */
    readonly dataRange: { readonly firstTs: number; readonly lastTs: number } | null;
    /** The model in service at the end, e.g. "gru v5" or "baseline seasonal-naive-1d". */
    readonly model: string;
    /** Training ranges of the GRU versions that served (meta.json), newest last. */
    readonly training: readonly { readonly version: number; readonly firstTs: number | null; readonly lastTs: number | null }[];
    readonly createdAt: string;
  };
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (v: number | null | undefined, digits = 4) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : Number(v.toPrecision(digits)).toLocaleString('en-US', { maximumSignificantDigits: digits }));
const pct = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(1)} %`);
const iso = (ts: number | null | undefined) => (ts === null || ts === undefined ? '–' : new Date(ts).toISOString().replace('.000Z', 'Z'));
const round = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(5)) : null);
const avg = (a: readonly (number | null)[]) => {
  const v = a.filter((x): x is number => x !== null);
  return v.length ? v.reduce((p, c) => p + c, 0) / v.length : null;
};

/** Horizons offered by the trace's picker: 1, a quarter, half and all of the horizon. */
export function pickerHorizons(H: number): number[] {
  return [...new Set([1, Math.ceil(H / 4), Math.ceil(H / 2), H])].filter((h) => h >= 1 && h <= H).sort((a, b) => a - b);
}

/** Newest origins offered by the fan chart's slider. */
const FAN_ORIGINS = 24;

/**
 * Columnar rows (one array per field), strings as indexes into a per-field dictionary (`$field`):
 * several times smaller than an array of objects repeating series and model names.
 */
class Columns {
  readonly cols: Record<string, (number | string | null)[]> = {};
  private readonly dicts = new Map<string, Map<string, number>>();
  constructor(fields: readonly string[]) {
    for (const f of fields) this.cols[f] = [];
  }
  push(row: Record<string, number | string | null>): void {
    for (const [k, v] of Object.entries(row)) {
      if (typeof v !== 'string') {
        // Integers (timestamps, counts) are exact; measured values keep 5 significant digits.
        this.cols[k]!.push(typeof v === 'number' && !Number.isInteger(v) ? round(v) : v);
        continue;
      }
      let d = this.dicts.get(k);
      if (d === undefined) this.dicts.set(k, (d = new Map()));
      let i = d.get(v);
      if (i === undefined) d.set(v, (i = d.size));
      this.cols[k]!.push(i);
    }
  }
  get data(): Record<string, (number | string | null)[]> {
    const out = { ...this.cols };
    for (const [k, d] of this.dicts) out[`$${k}`] = [...d.keys()];
    return out;
  }
}

/** The named datasets of the charts, built from the traces and the summary. */
export function reportData(input: ReportInput): Record<string, Record<string, (number | string | null)[]>> {
  const { summary, traces } = input;
  const H = summary.horizon;
  const name = (m: string) => displayName(m, summary);
  const hs = pickerHorizons(H);
  const actual = new Columns(['s', 't', 'y']);
  const overview = new Columns(['s', 't', 'v', 'm']);
  const trace = new Columns(['s', 't', 'h', 'm', 'md', 'lo', 'hi']);
  const fan = new Columns(['s', 'k', 't', 'h', 'm', 'md', 'lo', 'hi', 'lo2', 'hi2']);
  const origins = new Columns(['s', 'k', 'o']);
  const fanActual = new Columns(['s', 'k', 't', 'y']);
  const primary = input.traced[0];
  const S = input.stride;
  for (const tr of traces) {
    const step = tr.stepMs || summary.step;
    const n = tr.steps.length;
    // Origins whose every horizon lies inside the traced window (else the newest ones).
    const complete = Math.max(0, n - H);
    const newest = complete > 0 ? complete - 1 : n - 1;
    for (let i = 0; i < n; i++) {
      const st = tr.steps[i]!;
      actual.push({ s: tr.series, t: st.ts, y: st.actual });
      if (st.actual !== null) overview.push({ s: tr.series, t: st.ts, v: st.actual, m: 'actual' });
      for (const m of input.traced) {
        const f = st.forecasts[m];
        if (f === undefined) continue;
        const at = (h: number, j: number): number | null => (j < S ? (f[(h - 1) * S + j] ?? null) : null);
        for (const h of hs) {
          if (!Number.isFinite(at(h, 0) ?? Number.NaN)) continue;
          trace.push({ s: tr.series, t: st.ts + h * step, h, m: name(m), md: at(h, 0), lo: at(h, 1), hi: at(h, 2) });
          if (h === 1 && m === primary && i + 1 < n) overview.push({ s: tr.series, t: st.ts + step, v: at(h, 0), m: name(m) });
        }
        const k = FAN_ORIGINS - 1 - (newest - i);
        if (k < 0 || i > newest) continue;
        for (let h = 1; h <= H; h++) {
          if (!Number.isFinite(at(h, 0) ?? Number.NaN)) continue;
          fan.push({ s: tr.series, k, t: st.ts + h * step, h, m: name(m), md: at(h, 0), lo: at(h, 1), hi: at(h, 2), lo2: at(h, 3), hi2: at(h, 4) });
        }
      }
      const k = FAN_ORIGINS - 1 - (newest - i);
      if (k >= 0 && i <= newest) {
        origins.push({ s: tr.series, k, o: st.ts });
        // Context: 2H steps before the origin, and the H targets after it.
        for (let j = Math.max(0, i - 2 * H); j <= Math.min(n - 1, i + H); j++) {
          const a = tr.steps[j]!;
          if (a.actual !== null) fanActual.push({ s: tr.series, k, t: a.ts, y: a.actual });
        }
      }
    }
  }
  const horizon = new Columns(['m', 'h', 'mae', 'cov']);
  const pair = input.pairs[0];
  for (const [m, s] of Object.entries(summary.models)) {
    for (let h = 1; h <= H; h++) horizon.push({ m: name(m), h, mae: s.mae[h - 1] ?? null, cov: pair === undefined ? null : (s.coverageByHorizon?.[pair]?.[h - 1] ?? null) });
  }
  return { actual: actual.data, overview: overview.data, trace: trace.data, fan: fan.data, origins: origins.data, fanActual: fanActual.data, horizon: horizon.data };
}

function nominalOf(pair: string | undefined): number | undefined {
  if (pair === undefined) return undefined;
  const [lo, hi] = pair.split('-').map(Number);
  return lo !== undefined && hi !== undefined ? hi - lo : undefined;
}

function scoresTable(summary: BacktestSummary): string {
  const models = Object.keys(summary.models);
  const intervals = [...new Set(models.flatMap((m) => Object.keys(summary.models[m]!.coverage)))];
  const best = summary.best_baseline === null ? null : (summary.models[summary.best_baseline]?.maeMean ?? null);
  const rows = models
    .map((m) => {
      const s = summary.models[m]!;
      const skill = best !== null && best > 0 && s.maeMean !== null ? 1 - s.maeMean / best : null;
      return `<tr><td>${esc(displayName(m, summary))}${m === summary.best_baseline ? ' <small>(best baseline)</small>' : ''}</td><td>${num(s.maeMean)}</td><td>${num(avg(s.mase))}</td><td>${num(avg(s.smape))}</td>${intervals.map((k) => `<td>${pct(s.coverage[k] ?? null)}</td>`).join('')}<td>${skill === null ? '–' : `${skill >= 0 ? '+' : ''}${(skill * 100).toFixed(1)} %`}</td></tr>`;
    })
    .join('\n');
  return `<table class="scores"><thead><tr><th>model</th><th>MAE (mean over h)</th><th>MASE</th><th>sMAPE %</th>${intervals.map((k) => `<th>coverage ${esc(k)} (nominal ${Math.round((nominalOf(k) ?? 0) * 100)} %)</th>`).join('')}<th>skill vs best baseline</th></tr></thead><tbody>
${rows}
</tbody></table>`;
}

const SERIES_ROWS = 200;

function seriesTable(input: ReportInput): string {
  const { summary } = input;
  const models = Object.keys(summary.models);
  const best = summary.best_baseline;
  const target = input.traces[0]?.series;
  const rows = [...input.seriesScores].sort((a, b) => Number(b.series === target) - Number(a.series === target) || b.cells - a.cells || a.series.localeCompare(b.series));
  const shown = rows.slice(0, SERIES_ROWS);
  const body = shown
    .map((r) => {
      const g = r.mae['gru'] ?? null;
      const b = best === null ? null : (r.mae[best] ?? null);
      const skill = g !== null && b !== null && b > 0 ? 1 - g / b : null;
      return `<tr><td>${esc(r.series)}</td><td>${r.cells.toLocaleString('en-US')}</td>${models.map((m) => `<td>${num(r.mae[m] ?? null)}</td>`).join('')}<td>${num(r.mase['gru'] ?? null, 3)}</td><td>${skill === null ? '–' : `${skill >= 0 ? '+' : ''}${(skill * 100).toFixed(1)} %`}</td></tr>`;
    })
    .join('\n');
  const more = rows.length > shown.length ? `<p>${shown.length} of ${rows.length} series shown (most scored cells first); every series is in the scores above.</p>` : '';
  return `<table class="series"><thead><tr><th>series</th><th>scored cells</th>${models.map((m) => `<th>MAE ${esc(displayName(m, summary))}</th>`).join('')}<th>MASE gru</th><th>skill of gru vs ${esc(best ?? 'best baseline')}</th></tr></thead><tbody>
${body}
</tbody></table>${more}`;
}

function metaList(input: ReportInput): string {
  const { summary, meta } = input;
  const training = meta.training.length === 0 ? 'no GRU served (the pipeline served its baseline)' : meta.training.map((t) => `v${t.version}: ${iso(t.firstTs)} → ${iso(t.lastTs)}`).join('; ');
  const items: [string, string][] = [
    ['command', `<code>${esc(meta.command)}</code>`],
    ['pipeline spec', `${esc(meta.specPath)} (below)`],
    ['input', esc(summary.input)],
    ['data range', meta.dataRange === null ? '–' : `${iso(meta.dataRange.firstTs)} → ${iso(meta.dataRange.lastTs)} (UTC)`],
    ['model at the end', esc(meta.model)],
    ['training ranges of the GRU versions served', esc(training)],
    ['step · horizon · warm-up', `${summary.step / 60_000} min · ${summary.horizon} steps · ${summary.warmupSteps} steps per series`],
    ['report written', esc(meta.createdAt)],
  ];
  return `<dl>${items.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

/**
 * A self-contained HTML page for a backtest: scores, per-series table and run metadata as HTML;
 * the charts are Vega-Lite specs rendered by vega-embed from the inlined `scripts`
 * (vegaBundle.ts), so the file works offline. Data travels as columnar JSON in the page.
 */
export function renderHtmlReport(input: ReportInput, scripts: string): string {
  const { summary, traces } = input;
  const names = input.traced.map((m) => displayName(m, summary));
  const allModels = [...new Set([...names, ...Object.keys(summary.models).map((m) => displayName(m, summary))])];
  const scale = colorScale(allModels);
  const centreLabel = input.centre === 'median' ? 'median (q0.5)' : 'mean';
  const series = traces.map((t) => t.series);
  const specs: Record<string, object> = {};
  if (traces.length > 1) specs['overview'] = overviewSpec({ scale, series, centreLabel, primary: names[0] ?? 'gru' });
  if (traces.length > 0) {
    specs['detail'] = detailSpec({
      scale,
      drawn: names,
      series,
      target: series[0]!,
      horizons: pickerHorizons(summary.horizon),
      origins: FAN_ORIGINS,
      horizon: summary.horizon,
      centreLabel,
      outerPair: input.pairs[0],
      innerPair: input.pairs[1],
    });
  }
  specs['horizon'] = horizonSpec({ scale, horizon: summary.horizon, pair: input.pairs[0], nominal: nominalOf(input.pairs[0]) });
  const data = JSON.stringify({ data: reportData(input), specs }).replace(/</g, '\\u003c');
  const warnings = [...(summary.partial === true ? ['Partial run: interrupted before the end of the input; the scores cover the data up to the interruption.'] : []), ...(summary.warnings ?? [])];
  const skill = summary.skill === null ? '' : ` Skill of ${esc(displayName('gru', summary))} vs the best baseline: <b>${(summary.skill * 100).toFixed(1)} %</b>.`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>streamcast backtest: ${esc(summary.pipeline)}${summary.partial === true ? ' (partial)' : ''}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;max-width:1000px;color:#222}
table{border-collapse:collapse;margin:8px 0}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}td:first-child,th:first-child{text-align:left}
.warn{background:#fff4e5;border-left:4px solid #f0a030;padding:8px 12px;margin:8px 0}
.partial{background:#fde8e8;border-left-color:#d33}
dl{display:grid;grid-template-columns:max-content auto;gap:4px 16px}dt{color:#555}dd{margin:0}
pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}
.chart{margin:12px 0}.vega-bindings{margin:6px 0}.vega-bind{display:inline-block;margin-right:18px}
</style></head>
<body>
<h1>Backtest: ${esc(summary.pipeline)}${summary.partial === true ? ' <span class="badge">(partial)</span>' : ''}</h1>
${warnings.map((w, i) => `<p class="warn${i === 0 && summary.partial === true ? ' partial' : ''}">${esc(w)}</p>`).join('\n')}
<p>Input ${esc(summary.input)} · ${summary.series} series · step ${summary.step / 60_000} min · horizon ${summary.horizon} · ${summary.scoredCells.toLocaleString('en-US')} scored cells (the same for every model) · warm-up ${summary.warmupSteps} steps per series.
Prequential: every forecast was made before the value it is scored on was seen.${skill}</p>
${scoresTable(summary)}
${traces.length > 1 ? `<h2>Every series (${traces.length}${input.seriesSeen > traces.length ? ` of ${input.seriesSeen}` : ''})</h2><div id="overview" class="chart"></div>` : ''}
${traces.length > 0 ? `<h2>One series in detail</h2><div id="detail" class="chart"></div>` : '<p>No series to plot.</p>'}
<h2>Error and coverage by horizon</h2>
<div id="horizon" class="chart"></div>
<h2>Per series</h2>
${seriesTable(input)}
<h2>Run</h2>
${metaList(input)}
<pre>${esc(input.meta.specText)}</pre>
<script type="application/json" id="report-data">${data}</script>
<script>${scripts}</script>
<script>
(function () {
  var payload = JSON.parse(document.getElementById('report-data').textContent);
  var datasets = {};
  Object.keys(payload.data).forEach(function (name) {
    var cols = payload.data[name], keys = Object.keys(cols).filter(function (k) { return k[0] !== '$'; });
    var n = keys.length ? cols[keys[0]].length : 0, rows = new Array(n);
    for (var i = 0; i < n; i++) {
      var r = {};
      for (var j = 0; j < keys.length; j++) { var k = keys[j], v = cols[k][i], d = cols['$' + k]; r[k] = d && v !== null ? d[v] : v; }
      rows[i] = r;
    }
    datasets[name] = rows;
  });
  var done = [];
  Object.keys(payload.specs).forEach(function (id) {
    var spec = payload.specs[id];
    spec.datasets = datasets;
    done.push(vegaEmbed('#' + id, spec, { actions: false, renderer: 'svg' }));
  });
  Promise.all(done).then(function () { document.body.setAttribute('data-rendered', 'true'); }, function (err) { console.error(err); document.body.setAttribute('data-rendered', 'failed'); });
})();
</script>
</body></html>
`;
}
