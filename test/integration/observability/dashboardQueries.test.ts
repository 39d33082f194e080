import { freePort } from '../../helpers/freePort.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { repoRoot } from '../../helpers/cli.js';
import { describeWithCommand } from '../../helpers/commands.js';
import { annotationsOf, loadDashboards, queriesOf, substitute, variableQuery } from '../../helpers/dashboards.js';

/**
 * A real Prometheus (1 s scrapes) scraping a running `streamcast demo`; every PromQL expression
 * of every dashboard panel and every alert rule is evaluated through its HTTP API.
 */

/** Panels whose metrics only `streamcast run` (Kafka) reports; their queries must succeed but may be empty. */
const KAFKA_ONLY_PANELS = new Set(['Consumer lag (Kafka mode)']);
const VARIABLES = { pipeline: 'demo', __rate_interval: '30s', __interval: '15s' };
/** What a query variable must list exactly (others must list the demo pipeline): the demo's horizons. */
const VARIABLE_VALUES: Readonly<Record<string, string[]>> = { h: Array.from({ length: 12 }, (_, i) => String(i + 1)) };


async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

interface PromResponse {
  status: string;
  error?: string;
  data: { resultType: string; result: { metric: Record<string, string>; value?: [number, string] }[] } | string[];
}

describeWithCommand('prometheus', 'apt-get install -y --no-install-recommends prometheus (.ci/run does)', 'dashboards and alerts against a real Prometheus scraping streamcast demo', () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamcast-prom-'));
  let demo: ChildProcess | undefined;
  let prom: ChildProcess | undefined;
  let promUrl = '';
  let promLog = '';

  const query = async (q: string): Promise<PromResponse> => {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
    return (await res.json()) as PromResponse;
  };

  beforeAll(async () => {
    const [demoPort, promPort] = [await freePort(), await freePort()];
    // --rate 200 keeps the demo serving for about 45 s, longer than this suite.
    demo = spawn(process.execPath, ['bin/streamcast.js', 'demo', '--port', String(demoPort), '--rate', '200'], { cwd: repoRoot, stdio: 'ignore' });
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: ['${join(repoRoot, 'deploy', 'prometheus', 'alerts.yml')}']`,
        'scrape_configs:',
        '  - job_name: streamcast',
        `    static_configs: [{ targets: ['127.0.0.1:${demoPort}'] }]`,
        '',
      ].join('\n'),
    );
    prom = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    prom.stderr?.setEncoding('utf8').on('data', (c: string) => {
      promLog = (promLog + c).slice(-4000);
    });
    promUrl = `http://127.0.0.1:${promPort}`;
    await waitFor('Prometheus ready', async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined), 30_000);
    // Enough scrapes for 30 s rates (two samples) with live accuracy already scored.
    await waitFor(
      'six scrapes of streamcast with scored forecasts',
      async () => {
        const r = await query('count_over_time(streamcast_forecast_scored_total{model="baseline", horizon="12"}[1m]) >= 6');
        return Array.isArray(r.data) || r.data.result.length === 0 ? undefined : true;
      },
      40_000,
    );
  }, 90_000);

  afterAll(async () => {
    for (const p of [demo, prom]) {
      if (p !== undefined && p.exitCode === null && p.signalCode === null) {
        const exited = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes the demo target successfully', async () => {
    const r = await query('up{job="streamcast"}');
    expect(r.status).toBe('success');
    expect(Array.isArray(r.data) ? [] : r.data.result.map((s) => s.value?.[1])).toEqual(['1']);
  });

  for (const [file, d] of loadDashboards()) {
    for (const q of queriesOf(file, d).filter((x) => x.kind === 'prometheus')) {
      const needsData = !KAFKA_ONLY_PANELS.has(q.panel);
      it(`${file} / ${q.panel} / ${q.refId} ${needsData ? 'returns data' : 'succeeds (Kafka mode only)'}`, async () => {
        const expr = substitute(q.text, VARIABLES);
        expect(expr).not.toMatch(/\$/);
        const r = await query(expr);
        expect(r.status, `${expr}: ${r.error ?? ''}`).toBe('success');
        if (needsData) expect(Array.isArray(r.data) ? 0 : r.data.result.length, expr).toBeGreaterThan(0);
      });
    }
    for (const v of d.templating.list.filter((x) => x.datasource?.type === 'prometheus')) {
      it(`${file} / variable $${v.name} lists ${VARIABLE_VALUES[v.name] === undefined ? 'the demo pipeline' : `exactly ${VARIABLE_VALUES[v.name]!.join(',')}`}`, async () => {
        const m = /^label_values\((.+),\s*(\w+)\)$/.exec(variableQuery(v) ?? '');
        expect(m).not.toBeNull();
        const selector = substitute(m![1]!, VARIABLES);
        const res = await fetch(`${promUrl}/api/v1/label/${m![2]}/values?match[]=${encodeURIComponent(selector)}`);
        const body = (await res.json()) as PromResponse;
        const want = VARIABLE_VALUES[v.name];
        if (want === undefined) expect(body.data).toContain('demo');
        else expect([...(body.data as string[])].sort((a, b) => Number(a) - Number(b))).toEqual(want);
      });
    }
    for (const a of annotationsOf(d).filter((x) => x.datasource?.type === 'prometheus')) {
      // Grafana runs annotation queries over the dashboard's range; the demo's model, loaded at
      // start, is such a change within the last two minutes.
      it(`${file} / annotation "${a.name}" marks the model the demo started serving`, async () => {
        const expr = substitute(a.expr ?? '', { ...VARIABLES, __interval: '2s' });
        expect(expr).not.toMatch(/\$/);
        const end = Date.now() / 1000;
        const res = await fetch(`${promUrl}/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${end - 120}&end=${end}&step=1`);
        const body = (await res.json()) as { status: string; error?: string; data: { result: { metric: Record<string, string>; values: unknown[] }[] } };
        expect(body.status, `${expr}: ${body.error ?? ''}`).toBe('success');
        expect(body.data.result.map((s) => s.metric['kind'])).toContain('gru');
        // A marker, not a band: present at the change, then gone.
        for (const s of body.data.result) expect(s.values.length).toBeLessThan(10);
      });
    }
  }

  const rules = parse(readFileSync(join(repoRoot, 'deploy', 'prometheus', 'alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
  for (const rule of rules.groups.flatMap((g) => g.rules)) {
    it(`alert ${rule.alert}: its expression evaluates (quiet on a healthy demo)`, async () => {
      const r = await query(rule.expr);
      expect(r.status, r.error).toBe('success');
      // Skill depends on the data, not on health: the demo retrains in the background on little
      // history, so the model may trail the baseline for a while (the rule's `for: 30m` covers it).
      if (rule.alert !== 'StreamcastModelWorseThanBaseline') expect(Array.isArray(r.data) ? [] : r.data.result).toEqual([]);
    });
  }

  it('Prometheus loaded every alert rule and evaluates them without error', async () => {
    const body = await waitFor(
      'rule evaluation',
      async () => {
        const b = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string }[] }[] } };
        const all = b.data.groups.flatMap((g) => g.rules);
        return all.length > 0 && all.every((x) => x.health === 'ok') ? all : undefined;
      },
      15_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\nprometheus log: ${promLog}`);
    });
    expect(body.map((x) => x.name).sort()).toEqual(rules.groups.flatMap((g) => g.rules.map((x) => x.alert)).sort());
  });
});
