/**
 * Memory per active series of the per-series state the serving path keeps: hidden state (H=64),
 * normalizer, imputer (ffill), history ring (context 96), at 100k series — issue 3's target is
 * ≤ 1 KB per series in total. Also the resampler's state. The four share one series index
 * (SeriesRegistry), as a pipeline's do (kafkaRun, createPipelineCores, ModelRuntime): it is a row
 * of its own, counted once. Run with --expose-gc for stable figures:
 *
 *   npm run bench -- memory
 */
import { HiddenStateSlab } from '../src/forecasting/gru/hiddenStateSlab.js';
import { Imputer } from '../src/pipeline/core/imputer.js';
import { Normalizer } from '../src/pipeline/core/normalizer.js';
import { Resampler } from '../src/pipeline/core/resampler.js';
import { SeriesHistory } from '../src/state/seriesHistory.js';
import { SeriesRegistry } from '../src/state/seriesRegistry.js';

const N = 100_000;
const STEP = 60_000;
const STEPS = 100;

function used(): number {
  // Twice: array buffers found dead by the first collection are freed by the second (one alone left
  // run-to-run differences of ~100 B per series in the history ring's row).
  (globalThis as { gc?: () => void }).gc?.();
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

export async function benchMemory(): Promise<Record<string, unknown>[]> {
  const ids = Array.from({ length: N }, (_, i) => `host-${i}.cpu`);
  const rows: Record<string, unknown>[] = [];
  const measure = (name: string, build: () => unknown) => {
    const before = used();
    const keep = build();
    const bytes = (used() - before) / N;
    rows.push({ component: name, 'bytes/series': Math.round(bytes) });
    return keep;
  };
  const keep: unknown[] = [];
  keep.push(
    measure('resampler (1 open bucket)', () => {
      const r = new Resampler({ stepMs: STEP, aggregate: 'mean', latenessMs: STEP, idleCloseMs: 5 * STEP, maxJumpMs: 86_400_000 });
      for (const series of ids) r.push({ series, ts: 0, value: 1 }, 0);
      return r;
    }),
  );
  const registry = new SeriesRegistry();
  keep.push(
    measure('series index (one, shared by the four below)', () => {
      const view = registry.hold();
      for (const series of ids) view.add(series);
      return view;
    }),
  );
  keep.push(
    measure('imputer (ffill)', () => {
      const imp = new Imputer({ stepMs: STEP, strategy: 'ffill', maxGapMs: 3_600_000, seasonMs: 86_400_000 }, registry);
      for (const series of ids) imp.push({ series, ts: 0, value: 1, count: 1 });
      return imp;
    }),
  );
  keep.push(
    measure('normalizer', () => {
      const n = new Normalizer({ stepMs: STEP, halfLifeMs: 86_400_000 }, registry);
      for (const series of ids) n.push({ series, ts: 0, value: 1, observed: true, imputed: false, sinceObserved: 0, reset: true });
      return n;
    }),
  );
  keep.push(
    measure('hidden state (H=64)', () => {
      const slab = new HiddenStateSlab(64, 64, registry);
      for (const series of ids) slab.slotOf(series);
      return slab;
    }),
  );
  keep.push(
    measure(`history ring (96 steps, ${STEPS} appended)`, () => {
      const h = new SeriesHistory({ stepMs: STEP, capacity: 96 }, registry);
      for (let t = 0; t < STEPS; t++) {
        for (const series of ids) {
          h.append({ series, ts: t * STEP, value: t, observed: true, imputed: false, sinceObserved: 0, reset: t === 0, z: 0.1, scale: { mean: 1, std: 2 } });
        }
      }
      return h;
    }),
  );
  const total = rows.reduce((s, r) => s + (r['bytes/series'] as number), 0);
  // Issue 3's target covers the serving path's state after the resampler: ≤ 1 KB per series.
  const target = rows.slice(1).reduce((s, r) => s + (r['bytes/series'] as number), 0);
  rows.push({ component: 'index + imputer + normalizer + hidden + history (target ≤ 1024)', 'bytes/series': target });
  rows.push({ component: 'total', 'bytes/series': total });
  // model.members (default 2) serves one GRU of members × hidden units: its state is that wide.
  const hidden64 = rows[4]!['bytes/series'] as number;
  const two = measure('hidden state, two members (2 × 64: model.members default)', () => {
    const slab = new HiddenStateSlab(128, 64, registry);
    for (const series of ids) slab.slotOf(series);
    return slab;
  });
  keep.push(two);
  const twoBytes = rows.at(-1)!['bytes/series'] as number;
  rows.push({ component: 'index + imputer + normalizer + hidden (two members) + history', 'bytes/series': target - hidden64 + twoBytes });
  if (!(globalThis as { gc?: () => void }).gc) rows.push({ component: '(run node with --expose-gc for stable figures)', 'bytes/series': 0 });
  return rows;
}
