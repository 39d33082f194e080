/**
 * A peer for the accuracy bench: Nixtla's statsforecast (MSTL with an AutoETS trend, and its
 * SeasonalNaive as a sanity check) forecasting the same steps, scored on the same cells by
 * streamcast's own PrequentialScorer.
 *
 * 1. The data set goes through the spec's pipeline exactly as `backtest` runs it (resampling,
 *    imputation; retraining off, so only the steps matter) and every step is written to a CSV.
 * 2. bench/peers/statsforecast_peer.py forecasts h = 1..H at every step from the values up to it
 *    (refitting every retrain.every, moving the trend state forward in between; see the script).
 * 3. The steps are replayed through the backtest's baselines and a PrequentialScorer with the
 *    peer's forecasts beside them: the same cell rule, the same warm-up, the same code. The
 *    peer's cell count is compared with the backtest's (`cellsMatch`).
 *
 * Python and statsforecast live in a venv under .cache/peers-venv, created on first use
 * (`python3 -m venv`, `pip install statsforecast`). When that cannot be done the peer is skipped
 * with one line saying how to install it; the accuracy bench goes on.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { DeadLetter } from '../src/domain/deadLetter.js';
import type { Forecast } from '../src/domain/forecast.js';
import { quantileKey } from '../src/domain/forecast.js';
import type { NormalizedStep } from '../src/domain/step.js';
import { DiscardSink } from '../src/connectors/memory/discardSink.js';
import { baselineSet } from '../src/app/backtestRun.js';
import { buildReplayRun, runReplay, type ReplayProgress } from '../src/app/replayRun.js';
import type { BacktestSummary } from '../src/evaluation/backtestSummary.js';
import { PrequentialScorer } from '../src/evaluation/prequentialScorer.js';
import { createLogger } from '../src/observability/logger.js';
import { loadSpec } from '../src/spec/loadSpec.js';

const root = resolve(import.meta.dirname, '..');
const venv = join(root, '.cache', 'peers-venv');
const python = join(venv, 'bin', 'python');
const script = join(root, 'bench', 'peers', 'statsforecast_peer.py');
export const PEER_MODELS = ['sf-mstl', 'sf-seasonal-naive'] as const;
const INSTALL = `python3 -m venv .cache/peers-venv && .cache/peers-venv/bin/pip install statsforecast`;

export interface PeerCase {
  readonly label: string;
  readonly spec: string;
  readonly inputs: readonly string[];
  /** Only these series (the backtest's `--series`). */
  readonly series?: readonly string[];
}

export interface PeerResult {
  /** Baselines and peers scored on the same cells (the backtest's cell rule and warm-up). */
  readonly summary: BacktestSummary;
  /** What the Python side ran and how long its fits took. */
  readonly python: Record<string, unknown>;
  readonly seconds: number;
}

let ready: boolean | undefined;

/** True when the venv has statsforecast (creating it once if it can); false after one line on stderr. */
export function peerAvailable(): boolean {
  if (ready !== undefined) return ready;
  const has = (): boolean => existsSync(python) && spawnSync(python, ['-c', 'import statsforecast'], { stdio: 'ignore' }).status === 0;
  if (!has()) {
    if (spawnSync('python3', ['--version'], { stdio: 'ignore' }).status !== 0) {
      process.stderr.write(`accuracy: statsforecast peer skipped: no python3 (install Python 3, then: ${INSTALL})\n`);
      return (ready = false);
    }
    process.stderr.write(`accuracy: installing statsforecast into .cache/peers-venv (once)\n`);
    const made = spawnSync('sh', ['-c', `python3 -m venv "${venv}" && "${venv}/bin/pip" install -q statsforecast`], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (made.status !== 0 || !has()) {
      process.stderr.write(`accuracy: statsforecast peer skipped: could not install it (${INSTALL})\n`);
      return (ready = false);
    }
  }
  return (ready = true);
}

const quiet: ReplayProgress = { update: () => undefined, phase: () => undefined, stop: () => undefined };

/** The steps the backtest's scorer sees, in stream order, batch by batch. */
async function pipelineSteps(c: PeerCase): Promise<NormalizedStep[][]> {
  const spec = loadSpec(join(root, c.spec));
  const logger = createLogger({ level: 'error' });
  const run = buildReplayRun(spec, { paths: c.inputs, ...(c.series?.length ? { series: c.series } : {}) }, { retrain: 'off', logger });
  const batches: NormalizedStep[][] = [];
  await runReplay(
    run,
    { forecasts: new DiscardSink<Forecast>(), deadLetters: new DiscardSink<DeadLetter>() },
    { progress: quiet, logger, onBatch: (steps) => batches.push([...steps]) },
  );
  return batches;
}

/** Runs a peer script (default statsforecast_peer.py) in the venv; its stdout. Lines matching `progress` on stderr are passed through. */
export function runPython(args: string[], file = script, progress?: RegExp): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(python, [file, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      err += s;
      if (progress !== undefined) for (const line of s.split('\n')) if (progress.test(line)) process.stderr.write(`${line}\n`);
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise(out) : reject(new Error(`${basename(file)} exited ${code}: ${err.slice(-2000)}`))));
  });
}

export async function runPeer(c: PeerCase): Promise<PeerResult> {
  const started = performance.now();
  const spec = loadSpec(join(root, c.spec));
  const H = spec.model.horizon;
  const stepMs = spec.window.step;
  const batches = await pipelineSteps(c);
  const steps = batches.flat();

  const baselines = baselineSet(spec);
  const longestSeason = Math.max(...[...baselines.keys()].map((k) => (k.endsWith('1w') ? (7 * 86_400_000) / stepMs : k.startsWith('seasonal-naive-') ? 86_400_000 / stepMs : 1)));
  const warmupSteps = 2 * longestSeason; // the backtest's default warm-up

  const dir = join(root, '.cache', 'peers');
  mkdirSync(dir, { recursive: true });
  const tag = c.label.replace(/[^A-Za-z0-9_-]+/g, '_');
  const stepsCsv = join(dir, `${tag}.steps.csv`);
  const outBin = join(dir, `${tag}.forecasts.f32`);
  writeFileSync(stepsCsv, `series,ts,value,observed\n${steps.map((s) => `${JSON.stringify(s.series)},${s.ts},${s.value},${s.observed ? 1 : 0}`).join('\n')}\n`);
  const refit = Math.max(1, Math.round(spec.retrain.every / stepMs));
  const python = JSON.parse(
    await runPython(['--steps', stepsCsv, '--out', outBin, '--horizon', String(H), '--step-ms', String(stepMs), '--warmup', String(warmupSteps), '--refit', String(refit)]),
  ) as Record<string, unknown>;

  const buf = readFileSync(outBin);
  const f32 = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const M = PEER_MODELS.length;
  if (f32.length !== steps.length * M * H * 3) throw new Error(`peer forecasts: ${f32.length} numbers for ${steps.length} steps`);
  const [lo, hi] = [quantileKey(0.1), quantileKey(0.9)];
  const hasMedian = spec.model.quantiles.includes(0.5);

  const scorer = new PrequentialScorer({ models: [...baselines.keys(), ...PEER_MODELS], horizon: H, stepMs, quantiles: [0.1, 0.5, 0.9], warmupSteps });
  let row = 0;
  for (const batch of batches) {
    const outputs = [...baselines].map(([name, m]) => [name, m.step(batch)] as const);
    batch.forEach((step, i) => {
      scorer.addActual(step);
      for (const [name, out] of outputs) scorer.addForecasts(name, [out[i]!]);
      PEER_MODELS.forEach((name, m) => {
        const forecast = [];
        for (let h = 1; h <= H; h++) {
          const o = ((row * M + m) * H + h - 1) * 3;
          const mean = f32[o]!;
          if (!Number.isFinite(mean)) continue;
          forecast.push({ h, ts: step.ts + h * stepMs, mean, q: { [lo]: f32[o + 1]!, [hi]: f32[o + 2]!, ...(hasMedian ? { '0.5': mean } : {}) } });
        }
        scorer.addForecasts(name, [{ series: step.series, ts: step.ts, step: stepMs, forecast, model: { name, version: 0, kind: 'baseline' }, imputed: !step.observed }]);
      });
      row++;
    });
  }
  const summary = scorer.summary({ input: c.label, pipeline: spec.name });
  return { summary, python, seconds: (performance.now() - started) / 1000 };
}
