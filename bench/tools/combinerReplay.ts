/**
 * Compares ways of serving a forecast from the same recorded stream, in seconds instead of a
 * backtest per variant: what the GRU and the baseline forecast does not depend on how the served
 * forecast is chosen, so one backtest's inputs to the combiner can be replayed through others.
 *
 *   npx tsx bench/tools/combinerReplay.ts record <file.jsonl> <backtest args…>
 *   npx tsx bench/tools/combinerReplay.ts replay <file.jsonl> <warmupSteps> <expert lags> <baseline lags>
 *     (lags in steps, comma-separated; 1 is the last value)
 *
 * `replay` prints, per horizon, the MAE of the served centre over the best of last value and
 * seasonal naive (each lag) on the same cells (observed targets of origins past the warm-up):
 * the OnlineCombiner as built, and variants set by COMBINER_* environment variables.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Forecast } from '../../src/domain/forecast.js';
import { AR_MAX_ORDER, AR_MIN_ORDER } from '../../src/forecasting/combiner/lagExperts.js';
import { OnlineCombiner } from '../../src/forecasting/combiner/onlineCombiner.js';

/** The calibrator this one replaced (one global blend of GRU, last value and baseline by raw error), when a checkout of it is given. */
const OLD = process.env['COMBINER_OLD'];

const [mode, file, ...rest] = process.argv.slice(2);

if (mode === 'record') {
  const out = createWriteStream(file!);
  const proto = OnlineCombiner.prototype as unknown as {
    observe(step: { series: string; ts: number; value: number; observed: boolean; reset: boolean }): void;
    serve(served: Forecast, baseline: Forecast, model: boolean): Forecast;
  };
  const observe = proto.observe;
  const serve = proto.serve;
  // Only the pipeline's own combiner (the first made): retrains' calibration replays make others.
  let main: object | undefined;
  const mine = (c: object): boolean => (main ??= c) === c;
  proto.observe = function (step) {
    if (!mine(this)) return observe.call(this, step);
    out.write(JSON.stringify(['o', step.series, step.ts, step.value, step.observed, step.reset]) + '\n');
    observe.call(this, step);
  };
  proto.serve = function (served, baseline, model) {
    if (!mine(this)) return serve.call(this, served, baseline, model);
    const rows = (f: Forecast) => f.forecast.map((h) => [h.mean, ...Object.values(h.q)]);
    out.write(JSON.stringify(['s', served.series, served.ts, model, rows(served), rows(baseline), Object.keys(served.forecast[0]?.q ?? {})]) + '\n');
    return serve.call(this, served, baseline, model);
  };
  const { buildProgram } = await import('../../src/cli/program.js');
  let code = 0;
  await buildProgram((c) => (code = c)).parseAsync(['node', 'streamcast', ...rest]);
  await new Promise<void>((r) => out.end(r));
  process.exit(code);
}

if (mode === 'replay') {
  const warmup = Number(rest[0] ?? 0);
  const lags = (rest[1] ?? '').split(',').filter((s) => s !== '').map(Number);
  // The baselines the served forecast is judged against (lags in steps; 1: last value).
  const ownSeason = Number(process.env['COMBINER_BASELINE_SEASON'] ?? 1);
  const judges = (rest[2] ?? '1').split(',').filter((s) => s !== '').map(Number);
  const lines = createInterface({ input: createReadStream(file!) });
  type Obs = ['o', string, number, number, boolean, boolean];
  type Srv = ['s', string, number, boolean, number[][], number[][], string[]];
  const records: (Obs | Srv)[] = [];
  for await (const line of lines) {
    try {
      records.push(JSON.parse(line) as Obs | Srv);
    } catch {
      break; // a recording cut short
    }
  }
  const first = records.find((r): r is Srv => r[0] === 's')!;
  const H = first[4].length;
  const keys = first[6];
  const quantiles = keys.map(Number);
  // The step: the first gap between two points of one series (a recording interleaves series).
  const step = (() => {
    const a = records.filter((r): r is Obs => r[0] === 'o');
    const s0 = a[0]![1];
    const next = a.slice(1).find((r) => r[1] === s0)!;
    return next[2] - a[0]![2];
  })();
  // As the app builds it (lagExperts.ts): the moving mean of H values, and the day's seasonal means where the step divides a day.
  const daySteps = 86_400_000 / step;
  const appMeans = { means: [Math.max(2, H)], seasonalMeans: Number.isInteger(daySteps) && daySteps >= 2 ? [{ season: daySteps, count: 3 }, { season: daySteps, count: 3, level: 1 }] : [], ar: Math.min(AR_MAX_ORDER, Math.max(AR_MIN_ORDER, H)) };
  const variants: Record<string, () => OnlineCombiner> = {
    built: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, ...appMeans }),
    // The pooled autoregressive expert on changes (changeAr.ts): none (the combiner before it), or of order 3, 6, 12, 24.
    ...Object.fromEntries([0, 3, 6, 12, 24].map((p) => [`ar${p}`, () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, ...appMeans, ar: p })])),
    // The variants below leave the means out (as the combiner was when they were compared), unless they set them.
    lagsOnly: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags }),
    prior10: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, priorSteps: 10 }),
    prior1000: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, priorSteps: 1000 }),
    half500: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, halfLifeSteps: 500 }),
    half300: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, halfLifeSteps: 300 }),
    grid10: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, grid: 10 }),
    each: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, groups: 'each' }),
    eachGrid10: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, groups: 'each', grid: 10 }),
    units: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, scaleFree: false }),
    unitsEachGrid10: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, scaleFree: false, groups: 'each', grid: 10 }),
    oldLike: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, scaleFree: false, groups: 'each', grid: 10, priorSteps: 1e12 }),
    pipelineOnly: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, priorSteps: 1e12 }),
    mem3: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, baseMemory: 3 }),
    mem30: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, baseMemory: 30 }),
    half3000: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, halfLifeSteps: 3000 }),
    // Moving-mean experts (windows in steps): none (the combiner before them), H, H/2, H and 4H.
    noMeans: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, means: [] }),
    meanH: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, means: [Math.max(2, H)] }),
    meanHalfH: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, means: [Math.max(2, H >> 1)] }),
    meanH4H: () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, means: [Math.max(2, H), 4 * H] }),
    // Seasonal-mean experts (one day; counts of days, and one week where it fits).
    ...Object.fromEntries(
      (
        [
          ['sm3', [[86_400_000, 3]]],
          ['sm4', [[86_400_000, 4]]],
          ['sm7', [[86_400_000, 7]]],
          ['sm3w2', [[86_400_000, 3], [604_800_000, 2]]],
          ['sm3and7', [[86_400_000, 3], [86_400_000, 7]]],
        ] as [string, [number, number][]][]
      ).map(([name, ms]) => [
        name,
        () => new OnlineCombiner({ horizon: H, quantiles, stepMs: step, baselineSeason: ownSeason, lags, means: [Math.max(2, H)], seasonalMeans: ms.filter(([d]) => d % step === 0 && d / step >= 2).map(([d, count]) => ({ season: d / step, count })) }),
      ]),
    ),
  };
  const passThrough = (pick: 'gru' | 'baseline') => () =>
    ({
      horizon: H,
      observe: () => undefined,
      serve: (served: Forecast, baseline: Forecast) => (pick === 'gru' ? served : baseline),
    }) as unknown as OnlineCombiner;
  variants['asServed'] = passThrough('gru');
  variants['specBaseline'] = passThrough('baseline');
  if (OLD !== undefined) {
    const { OnlineCalibrator } = (await import(OLD)) as { OnlineCalibrator: new (o: object) => { observe(s: string, ts: number, v: number, o: boolean): void; serve(m: Forecast, last: number, b: Forecast): Forecast } };
    variants['old'] = () => {
      const old = new OnlineCalibrator({ horizon: H, quantiles, stepMs: step });
      const last = new Map<string, number>();
      return {
        horizon: H,
        observe: (s: { series: string; ts: number; value: number; observed: boolean }) => {
          old.observe(s.series, s.ts, s.value, s.observed);
          last.set(s.series, s.value);
        },
        serve: (served: Forecast, baseline: Forecast, model: boolean) => (model ? old.serve(served, last.get(served.series)!, baseline) : served),
      } as unknown as OnlineCombiner;
    };
  }
  const only = process.env['COMBINER_VARIANTS']?.split(',');
  const noModel = process.env['COMBINER_NO_MODEL'] === '1';
  // Values per series by ts, for targets and the baselines.
  const values = new Map<string, Map<number, number>>();
  const firstTs = new Map<string, number>();
  for (const r of records) {
    if (r[0] !== 'o') continue;
    if (!firstTs.has(r[1])) firstTs.set(r[1], r[2]);
    if (r[4]) {
      let m = values.get(r[1]);
      if (m === undefined) values.set(r[1], (m = new Map()));
      m.set(r[2], r[3]);
    }
  }
  const rows: string[] = [];
  const baseErr: Record<string, number[]> = {};
  const counted = { n: new Array<number>(H).fill(0) };
  for (const [name, make] of Object.entries(variants)) {
    if (only !== undefined && !only.includes(name)) continue;
    const c = make();
    const err = new Array<number>(H).fill(0);
    const n = new Array<number>(H).fill(0);
    const cover = new Array<number>(H).fill(0);
    const fc = (r: Srv, rows: number[][], kind: 'gru' | 'baseline'): Forecast => ({
      series: r[1],
      ts: r[2],
      step,
      imputed: false,
      model: { name: 'x', version: 1, kind },
      forecast: rows.map((v, k) => ({ h: k + 1, ts: r[2] + (k + 1) * step, mean: v[0]!, q: Object.fromEntries(keys.map((q, j) => [q, v[1 + j]!])) })),
    });
    const first = name === Object.keys(variants).find((k) => only === undefined || only.includes(k));
    for (const r of records) {
      if (r[0] === 'o') {
        c.observe({ series: r[1], ts: r[2], value: r[3], observed: r[4], reset: r[5] });
        continue;
      }
      const baseline = fc(r, r[5], 'baseline');
      // COMBINER_NO_MODEL=1: as if no GRU ever served (the combiner chooses among the baselines alone).
      const model = r[3] && !noModel;
      const served = model ? fc(r, r[4], 'gru') : baseline;
      const out = c.serve(served, baseline, model);
      if (r[2] < firstTs.get(r[1])! + warmup * step) continue;
      const vals = values.get(r[1]);
      for (let h = 1; h <= H; h++) {
        const y = vals?.get(r[2] + h * step);
        if (y === undefined) continue;
        // Only cells every judging baseline can forecast (a lag back into a gap has no value).
        const judged = judges.map((lag) => {
          const src = lag === 1 ? r[2] : r[2] + h * step - lag * Math.ceil(h / lag) * step;
          return vals?.get(src) ?? (lag === 1 ? undefined : vals?.get(r[2]));
        });
        if (judged.some((v) => v === undefined)) continue;
        const hf = out.forecast[h - 1]!;
        err[h - 1]! += Math.abs(y - hf.mean);
        n[h - 1]!++;
        const lo = hf.q[keys[0]!]!;
        const hi = hf.q[keys.at(-1)!]!;
        if (y >= lo && y <= hi) cover[h - 1]!++;
        if (first) {
          judges.forEach((lag, j) => {
            (baseErr[`lag${lag}`] ??= new Array<number>(H).fill(0))[h - 1]! += Math.abs(y - judged[j]!);
          });
          counted.n[h - 1]!++;
        }
      }
    }
    if (process.env["COMBINER_DEBUG"]) process.stderr.write(JSON.stringify({ baseErr, counted, err, n }) + "\n");
    const best = (h: number) => Math.min(...Object.values(baseErr).map((e) => e[h]! / counted.n[h]!).filter(Number.isFinite));
    const ratios = err.map((e, h) => e / n[h]! / best(h));
    const meanBest = Math.min(...Object.values(baseErr).map((e) => e.reduce((a, b) => a + b, 0)).filter(Number.isFinite)) / counted.n[0]!;
    const mean = err.reduce((a, b) => a + b, 0) / n[0]!;
    rows.push(`${name.padEnd(10)} mean ${(mean / meanBest).toFixed(3)} | ${ratios.map((x) => x.toFixed(3)).join(' ')} | cov ${(cover.reduce((a, b) => a + b, 0) / n.reduce((a, b) => a + b, 0)).toFixed(3)}`);
    process.stdout.write(rows.at(-1)! + '\n');
  }
}
