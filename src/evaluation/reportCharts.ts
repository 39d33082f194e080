/**
 * The backtest report's charts as Vega-Lite specs (pure data, rendered by vega-embed in the page).
 * Every chart shares one colour scale, so a model has the same colour everywhere, and reads its
 * rows from named datasets that the page fills in (see htmlReport.ts).
 */

/** Fixed colours: the same model is the same colour in every chart and every report. */
const ACTUAL_COLOR = '#222222';
const MODEL_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];

export interface ColorScale {
  readonly domain: readonly string[];
  readonly range: readonly string[];
}

/** `actual` first, then the models in the order given (the pipeline's model first). */
export function colorScale(models: readonly string[]): ColorScale {
  return { domain: ['actual', ...models], range: [ACTUAL_COLOR, ...models.map((_, i) => MODEL_COLORS[i % MODEL_COLORS.length]!)] };
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const timeX = (title: string | null = null) => ({ field: 't', type: 'temporal', scale: { type: 'utc' }, title, axis: { labelOverlap: true, labelFlush: true } });
// Nice ticks (Vega's) without padded zeros ("1,017", not "1,017.0"), never in exponent notation.
const NUMBER_FORMAT = ',~r';
const valueY = (field: string, title: string | null = null) => ({ field, type: 'quantitative', scale: { zero: false, nice: true }, title, axis: { tickCount: 5, format: NUMBER_FORMAT } });
// Every layer of a chart declares the same legend (layers that disagree make Vega-Lite warn).
// The legend lists what the chart draws (`shown`); the scale keeps every model's colour fixed.
const colorOf = (scale: ColorScale, title: string | null, shown: readonly string[] = scale.domain) => ({
  field: 'm',
  type: 'nominal',
  scale: { domain: [...scale.domain], range: [...scale.range] },
  title,
  legend: { orient: 'top', direction: 'horizontal', labelLimit: 360, titleLimit: 900, values: [...shown] },
});

/** Small multiples: every traced series' actuals and the pipeline model's 1-step-ahead centre. */
export function overviewSpec(opts: { scale: ColorScale; series: readonly string[]; centreLabel: string; primary: string }): object {
  return {
    $schema: SCHEMA,
    data: { name: 'overview' },
    facet: { field: 's', type: 'nominal', title: null, sort: [...opts.series] },
    columns: 3,
    spec: {
      width: 290,
      height: 110,
      mark: { type: 'line', strokeWidth: 1, interpolate: 'linear' },
      encoding: { x: timeX(), y: valueY('v'), color: colorOf(opts.scale, `line: actual, and 1 step ahead ${opts.centreLabel}`, ['actual', opts.primary]), detail: { field: 'm' } },
    },
    resolve: { scale: { y: 'independent', x: 'independent' } },
  };
}

/**
 * The chosen series over the traced window, h steps ahead (picker), with each model's outer band,
 * and the fan of every horizon from a chosen origin (slider) below it; the pickers are shared.
 */
export function detailSpec(opts: {
  scale: ColorScale;
  /** The models drawn (display names). */
  drawn: readonly string[];
  series: readonly string[];
  target: string;
  horizons: readonly number[];
  origins: number;
  horizon: number;
  centreLabel: string;
  outerPair: string | undefined;
  innerPair: string | undefined;
}): object {
  const band = opts.outerPair === undefined ? '' : `; band: ${opts.outerPair}${opts.innerPair !== undefined ? ` (darker: ${opts.innerPair})` : ''} quantiles`;
  const legendTitle = `line: ${opts.centreLabel}${band}`;
  const bySeries = { filter: 'datum.s === series' };
  const trace = {
    width: 900,
    height: 260,
    title: { text: 'Forecast vs actual, h steps ahead (pick the series and h above)', anchor: 'start', fontSize: 13 },
    layer: [
      ...(opts.outerPair === undefined
        ? []
        : [
            {
              data: { name: 'trace' },
              transform: [bySeries, { filter: 'datum.h === h' }],
              mark: { type: 'area', opacity: 0.18, interpolate: 'linear' },
              encoding: { x: timeX(), y: valueY('lo'), y2: { field: 'hi' }, color: colorOf(opts.scale, legendTitle, ['actual', ...opts.drawn]), detail: { field: 'm' } },
            },
          ]),
      {
        data: { name: 'trace' },
        transform: [bySeries, { filter: 'datum.h === h' }],
        mark: { type: 'line', strokeWidth: 1.3 },
        encoding: { x: timeX(), y: valueY('md'), color: colorOf(opts.scale, legendTitle, ['actual', ...opts.drawn]), detail: { field: 'm' } },
      },
      {
        data: { name: 'actual' },
        transform: [bySeries, { calculate: "'actual'", as: 'm' }],
        mark: { type: 'line', strokeWidth: 1.4 },
        encoding: { x: timeX(), y: valueY('y'), color: colorOf(opts.scale, legendTitle, ['actual', ...opts.drawn]) },
      },
    ],
  };
  const atOrigin = [bySeries, { filter: 'datum.k === origin' }];
  const fan = {
    width: 900,
    height: 260,
    title: { text: `Fan chart: every horizon (1–${opts.horizon}) from the chosen origin (dashed rule), with the actuals around it`, anchor: 'start', fontSize: 13 },
    layer: [
      ...(opts.outerPair === undefined
        ? []
        : [
            {
              data: { name: 'fan' },
              transform: atOrigin,
              mark: { type: 'area', opacity: 0.16 },
              encoding: { x: timeX(), y: valueY('lo'), y2: { field: 'hi' }, color: colorOf(opts.scale, legendTitle, ['actual', ...opts.drawn]), detail: { field: 'm' } },
            },
          ]),
      ...(opts.innerPair === undefined
        ? []
        : [
            {
              data: { name: 'fan' },
              transform: atOrigin,
              mark: { type: 'area', opacity: 0.3 },
              encoding: { x: timeX(), y: valueY('lo2'), y2: { field: 'hi2' }, color: colorOf(opts.scale, legendTitle, ['actual', ...opts.drawn]), detail: { field: 'm' } },
            },
          ]),
      {
        data: { name: 'fan' },
        transform: atOrigin,
        mark: { type: 'line', strokeWidth: 1.5, point: { size: 14 } },
        encoding: {
          x: timeX(),
          y: valueY('md'),
          color: colorOf(opts.scale, legendTitle, ['actual', ...opts.drawn]),
          detail: { field: 'm' },
          tooltip: [{ field: 'm', title: 'model' }, { field: 'h', title: 'h' }, { field: 'md', title: opts.centreLabel, format: ',.4~g' }, { field: 't', type: 'temporal', title: 'target (UTC)', format: '%Y-%m-%d %H:%M' }],
        },
      },
      {
        // The actuals around each origin are rows of their own (fanActual): no join in the page.
        data: { name: 'fanActual' },
        transform: [...atOrigin, { calculate: "'actual'", as: 'm' }],
        mark: { type: 'line', strokeWidth: 1.4, point: { size: 10, filled: true } },
        encoding: { x: timeX(), y: valueY('y'), color: colorOf(opts.scale, legendTitle, ['actual', ...opts.drawn]) },
      },
      {
        data: { name: 'origins' },
        transform: atOrigin,
        mark: { type: 'rule', strokeDash: [4, 3], color: '#666' },
        encoding: { x: { field: 'o', type: 'temporal', scale: { type: 'utc' } } },
      },
    ],
  };
  return {
    $schema: SCHEMA,
    params: [
      { name: 'series', value: opts.target, bind: { input: 'select', options: [...opts.series], name: 'series ' } },
      { name: 'h', value: opts.horizons[0] ?? 1, bind: { input: 'select', options: [...opts.horizons], name: 'h (steps ahead) ' } },
      { name: 'origin', value: Math.max(0, opts.origins - 1), bind: { input: 'range', min: 0, max: Math.max(0, opts.origins - 1), step: 1, name: 'fan origin (right = newest) ' } },
    ],
    vconcat: [trace, fan],
    resolve: { scale: { color: 'shared' } },
  };
}

/** MAE by horizon for every model, and outer-interval coverage by horizon against its nominal level. */
export function horizonSpec(opts: { scale: ColorScale; horizon: number; pair: string | undefined; nominal: number | undefined }): object {
  const models = opts.scale.domain.filter((m) => m !== 'actual');
  const hAxis = { field: 'h', type: 'quantitative', title: 'h (steps ahead)', scale: { domain: [1, Math.max(2, opts.horizon)], nice: false }, axis: { tickMinStep: 1, format: 'd' } };
  const mae = {
    width: 430,
    height: 230,
    title: { text: 'MAE by horizon', anchor: 'start', fontSize: 13 },
    data: { name: 'horizon' },
    transform: [{ filter: 'isValid(datum.mae)' }],
    mark: { type: 'line', point: { size: 18 } },
    encoding: { x: hAxis, y: { field: 'mae', type: 'quantitative', title: 'MAE', axis: { format: NUMBER_FORMAT } }, color: colorOf(opts.scale, null, models), tooltip: [{ field: 'm' }, { field: 'h' }, { field: 'mae', format: ',.4~g' }] },
  };
  const nominal = opts.nominal ?? 0;
  const coverage = {
    width: 430,
    height: 230,
    title: { text: opts.pair === undefined ? 'Coverage (no symmetric quantile pair)' : `Coverage of the ${opts.pair} interval by horizon (dashed: nominal ${Math.round(nominal * 100)} %)`, anchor: 'start', fontSize: 13 },
    layer: [
      {
        data: { name: 'horizon' },
        transform: [{ filter: 'isValid(datum.cov)' }],
        mark: { type: 'line', point: { size: 18 } },
        encoding: { x: hAxis, y: { field: 'cov', type: 'quantitative', title: 'share of actuals inside', scale: { domain: [0, 1] }, axis: { format: '.0%' } }, color: colorOf(opts.scale, null, models), tooltip: [{ field: 'm' }, { field: 'h' }, { field: 'cov', format: '.1%' }] },
      },
      { data: { values: [{ nominal }] }, mark: { type: 'rule', strokeDash: [6, 4], color: '#444' }, encoding: { y: { field: 'nominal', type: 'quantitative' } } },
    ],
  };
  return { $schema: SCHEMA, hconcat: [mae, coverage], resolve: { scale: { color: 'shared' } } };
}
