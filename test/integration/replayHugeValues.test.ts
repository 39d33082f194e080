import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

// 1e308 is a finite number, but what the pipeline derives from it is not (1e308 − (−1e308),
// squared deviations, summed errors): values beyond ±1e30 are dead-lettered at decode, and values
// at the bound flow through aggregation, normalization and forecasting without a non-finite number.
it('replay: values beyond ±1e30 are invalid_value dead letters; values at the bound give finite forecasts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamcast-huge-'));
  const spec = join(dir, 'huge.yaml');
  writeFileSync(
    spec,
    [
      'name: huge',
      'input: { topic: huge.in, codec: json }',
      'output: { topic: huge.out }',
      'window: { step: 1m, aggregate: sum }',
      'impute: { strategy: ffill, maxGap: 30m }',
      'model: { type: gru, hidden: 8, context: 16, horizon: 3, quantiles: [0.1, 0.5, 0.9] }',
      'baseline: { type: last-value }',
      '',
    ].join('\n'),
  );
  const T0 = Date.UTC(2024, 0, 1);
  const lines: string[] = [];
  for (let i = 0; i < 120; i++) {
    const ts = T0 + i * 60_000;
    // Summed per step: 20 points of ±1e30 alternate the step's sum between ±2e31.
    for (let k = 0; k < 20; k++) lines.push(JSON.stringify({ series: 'edge', ts: ts + k, value: i % 2 === 0 ? 1e30 : -1e30 }));
    lines.push(JSON.stringify({ series: 'calm', ts, value: i % 5 }));
    if (i % 10 === 0) lines.push(JSON.stringify({ series: 'edge', ts: ts + 100, value: i % 20 === 0 ? 1e308 : -1.5e30 }));
  }
  const input = join(dir, 'in.jsonl');
  writeFileSync(input, lines.join('\n') + '\n');
  const out = join(dir, 'f.jsonl');
  const dead = join(dir, 'd.jsonl');
  const r = await runCli(['replay', spec, '--input', input, '--out', out, '--dead-letters', dead]);
  expect(r.code, r.stderr).toBe(0);

  const letters = readFileSync(dead, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { reason: string; payload: string });
  expect(letters).toHaveLength(12);
  expect(new Set(letters.map((l) => l.reason))).toEqual(new Set(['invalid_value']));

  const text = readFileSync(out, 'utf8');
  expect(text).not.toMatch(/null|NaN|Infinity/);
  const forecasts = text.trim().split('\n').map((l) => JSON.parse(l) as { series: string; forecast: Array<{ mean: number; q: Record<string, number> }> });
  expect(forecasts.filter((f) => f.series === 'edge').length).toBeGreaterThan(100);
  for (const f of forecasts) {
    for (const h of f.forecast) {
      const qs = [h.q['0.1']!, h.q['0.5']!, h.q['0.9']!];
      expect([h.mean, ...qs].every(Number.isFinite)).toBe(true);
      expect(qs[0]! <= qs[1]! && qs[1]! <= qs[2]!).toBe(true);
    }
  }
});
