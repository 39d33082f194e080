/**
 * Accuracy of the pipeline model against the baselines (issue 3's targets): runs
 * `streamcast backtest … --json` — prequential, retraining as each spec says, blocking — on the
 * shared data sets and prints one row per data set: the model's mean MAE over horizons, the best
 * baseline's, their ratio (target ≤ 0.95; ETTh1 OT ≤ 1), the worst per-horizon ratio (target
 * ≤ 1.02), the 80% interval coverage (target 0.75–0.85), retrains and wall time. Data sets that
 * are absent are skipped.
 *
 *   npm run bench -- accuracy                 all four
 *   npx tsx bench/accuracy.ts nyc_taxi        some (by label)
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const shared = resolve(root, '..', 'shared', 'datasets');

interface Case {
  readonly label: string;
  readonly spec: string;
  readonly inputs: string[];
  readonly extra?: string[];
  /** Target ratio of mean MAE to the best baseline's. */
  readonly target: number;
}

interface Summary {
  readonly scoredCells: number;
  readonly models: Record<string, { mae: (number | null)[]; maeMean: number | null; coverage: Record<string, number | null> }>;
  readonly best_baseline: string | null;
  readonly skill: number | null;
}

function cases(): Case[] {
  const nab = join(shared, 'nab');
  const tweetsDir = join(nab, 'realTweets');
  const tweets = existsSync(tweetsDir) ? readdirSync(tweetsDir).filter((f) => f.endsWith('.csv')).sort().map((f) => join(tweetsDir, f)) : [];
  const all: Case[] = [
    { label: 'nyc_taxi', spec: 'pipelines/nyc-taxi.yaml', inputs: [join(nab, 'realKnownCause', 'nyc_taxi.csv')], target: 0.95 },
    { label: 'machine_temperature', spec: 'pipelines/nab-5min.yaml', inputs: [join(nab, 'realKnownCause', 'machine_temperature_system_failure.csv')], target: 0.95 },
    { label: 'realTweets (10)', spec: 'pipelines/nab-5min.yaml', inputs: tweets, target: 0.95 },
    { label: 'ETTh1 OT', spec: 'pipelines/etth1.yaml', inputs: [join(shared, 'ett', 'ETTh1.csv')], extra: ['--series', 'OT'], target: 1 },
  ];
  return all.filter((c) => c.inputs.length > 0 && c.inputs.every((p) => existsSync(p)));
}

function backtest(c: Case): Promise<{ summary: Summary; seconds: number; stderr: string }> {
  const args = ['bin/streamcast.js', 'backtest', c.spec, ...c.inputs.flatMap((p) => ['--input', p]), ...(c.extra ?? []), '--json', '--quiet'];
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`backtest ${c.label} exited ${code}: ${err.slice(-2000)}`));
        return;
      }
      resolvePromise({ summary: JSON.parse(out) as Summary, seconds: (performance.now() - started) / 1000, stderr: err });
    });
  });
}

export async function benchAccuracy(only: readonly string[] = []): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  const todo = cases().filter((c) => only.length === 0 || only.some((o) => c.label.startsWith(o)));
  if (todo.length === 0) {
    process.stderr.write(`accuracy: no data sets found under ${shared}; skipped\n`);
    return rows;
  }
  for (const c of todo) {
    const { summary, seconds } = await backtest(c);
    const gru = summary.models['gru'];
    const best = summary.best_baseline === null ? undefined : summary.models[summary.best_baseline];
    if (gru === undefined || best === undefined || gru.maeMean === null || best.maeMean === null) {
      rows.push({ dataset: c.label, note: 'no gru or baseline scores' });
      continue;
    }
    let worst = 0;
    let worstH = 0;
    gru.mae.forEach((m, i) => {
      const b = best.mae[i];
      if (m === null || b === null || b === undefined || b <= 0) return;
      if (m / b > worst) {
        worst = m / b;
        worstH = i + 1;
      }
    });
    const ratio = gru.maeMean / best.maeMean;
    const coverage = gru.coverage['0.1-0.9'] ?? null;
    rows.push({
      dataset: c.label,
      'gru MAE': round(gru.maeMean),
      'best baseline': summary.best_baseline,
      'baseline MAE': round(best.maeMean),
      ratio: round(ratio, 3),
      target: `≤ ${c.target}`,
      'worst h ratio': `${round(worst, 3)} (h=${worstH})`,
      'cov 0.1-0.9': coverage === null ? null : round(coverage, 3),
      cells: summary.scoredCells,
      'time s': round(seconds, 1),
      met: ratio <= c.target && worst <= 1.02 && coverage !== null && coverage >= 0.75 && coverage <= 0.85 ? 'yes' : 'no',
    });
    process.stderr.write(`accuracy: ${c.label} done in ${seconds.toFixed(1)} s\n`);
  }
  return rows;
}

function round(x: number, digits = 4): number {
  const p = 10 ** Math.max(0, digits - Math.max(0, Math.floor(Math.log10(Math.abs(x) || 1)) + 1));
  return Math.round(x * p) / p;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await benchAccuracy(process.argv.slice(2).filter((a) => !a.startsWith('-')));
  console.table(rows);
}
