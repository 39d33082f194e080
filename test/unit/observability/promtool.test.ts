import { spawnSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { expect, it } from 'vitest';
import { createMetrics, metricsListener } from '../../../src/observability/metrics.js';
import { describeWithCommand } from '../../helpers/commands.js';

describeWithCommand('promtool', 'install Debian package "prometheus" (.ci/run does)', 'metrics pass promtool check metrics', () => {
  it('reports no format errors and no lint problems', async () => {
    const registry = new Registry();
    const listen = metricsListener(createMetrics(registry, { pipeline: 'cpu-load' }));
    createMetrics(registry, { pipeline: 'second' });
    listen({ type: 'batch', size: 8, durationMs: 1.5, backend: 'cpu' });
    listen({ type: 'imputed', strategy: 'ffill', count: 2 });
    listen({ type: 'consumer_lag', topic: 'metrics.cpu', partition: 0, lag: 3 });
    listen({ type: 'model_info', version: 1, kind: 'gru', backend: 'cpu', trainBackend: 'wasm' });
    listen({ type: 'forecast_error', model: 'gru', horizon: 1, absErrorSum: 0.5, count: 1 });
    listen({ type: 'interval_coverage', model: 'gru', interval: '0.1-0.9', hits: 1, total: 1 });
    const text = await registry.metrics();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(r.error).toBeUndefined();
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('is a check that can fail: a counter without _total is reported', () => {
    const bad = '# HELP streamcast_x x\n# TYPE streamcast_x counter\nstreamcast_x 1\n';
    const r = spawnSync('promtool', ['check', 'metrics'], { input: bad, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/_total/);
  });
});
