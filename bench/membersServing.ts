/**
 * What `model.members` costs to serve: the model runtime stepping the same batches of series with
 * a model of one member and one of two (gruMembers.ts' memberInit: one GRU of 2 × 64 units, block
 * diagonal), alternated in one run, for small batches (the plain-loop step kernel, which steps each
 * member's block alone) and large ones (tf ops on the serving backend the app picks, wasm, which
 * multiply the dense matrix). Prints
 * series-steps/s of each (medians of 5 runs), and the ratio one / two for every run.
 *
 *   npm run bench -- members            (MEMBERS_SERIES, MEMBERS_STEPS to change the load)
 */
import type { NormalizedStep } from '../src/domain/step.js';
import { featureLayout } from '../src/forecasting/gru/featureLayout.js';
import { selectBackend } from '../src/forecasting/gru/backend.js';
import { memberInit } from '../src/forecasting/gru/gruMembers.js';
import { ModelRuntime } from '../src/forecasting/modelRuntime.js';
import { servingBatches, servingSpec } from './servingLoad.js';

const RUNS = 5;
const spec = servingSpec({ members: 2 });

function rate(members: number, data: readonly NormalizedStep[][], cells: number, backend: string): number {
  const dims = { layout: featureLayout(spec.model.timeFeatures, spec.impute.maxGap / spec.window.step), units: spec.model.hidden, horizon: 12, quantiles: [0.1, 0.5, 0.9] };
  const weights = { ...memberInit(undefined, dims, members, 1), version: 1 };
  const rt = new ModelRuntime({ spec, initial: weights });
  rt.useBackend(backend);
  const started = performance.now();
  for (const b of data) rt.step(b);
  const seconds = (performance.now() - started) / 1000;
  void rt.close();
  return cells / seconds;
}

export async function benchMembers(): Promise<Record<string, unknown>[]> {
  // The serving backend the app chooses (wasm), so large batches take the tf step kernel as in service.
  const backend = await selectBackend({ role: 'serve' });
  process.stderr.write(`members: serving on ${backend.name}\n`);
  const series = Number(process.env['MEMBERS_SERIES'] ?? 500);
  const steps = Number(process.env['MEMBERS_STEPS'] ?? 40);
  const rows: Record<string, unknown>[] = [];
  // 1 series per batch: the plain loop; the whole step at once: tf ops.
  for (const perBatch of [1, series]) {
    const data = servingBatches(series, steps, perBatch);
    const one: number[] = [];
    const two: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      one.push(rate(1, data, series * steps, backend.name));
      two.push(rate(2, data, series * steps, backend.name));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratios = one.map((x, i) => x / two[i]!);
    rows.push({
      'series per batch': perBatch,
      'series-steps/s, 1 member (median)': Math.round(median(one)),
      '2 members (median)': Math.round(median(two)),
      'one / two (median of runs)': Number(median(ratios).toFixed(2)),
      'one / two, every run': ratios.map((x) => x.toFixed(2)).join(' '),
    });
  }
  return rows;
}
