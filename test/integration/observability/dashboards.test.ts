import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { BUILTIN_VARIABLES, allPanels, annotationsOf, grafanaDir, loadDashboards, queriesOf, referencedVariables, variableQuery } from '../../helpers/dashboards.js';

interface Datasource {
  uid: string;
  type: string;
  url: string;
}

const provisioned = parse(readFileSync(join(grafanaDir, 'provisioning', 'datasources', 'datasources.yml'), 'utf8')) as { datasources: Datasource[] };
const dashboards = loadDashboards();

describe('Grafana provisioning and dashboards (structure)', () => {
  it('provisions Prometheus (uid prometheus) and InfluxDB (uid influxdb) at the compose service addresses', () => {
    const byUid = new Map(provisioned.datasources.map((d) => [d.uid, d]));
    expect(byUid.get('prometheus')).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    expect(byUid.get('influxdb')).toMatchObject({ type: 'influxdb', url: 'http://influxdb:8086' });
  });

  it('has the two dashboards with unique uids', () => {
    expect([...dashboards.keys()]).toEqual(['forecasts.json', 'pipeline-health.json']);
    const uids = [...dashboards.values()].map((d) => d.uid);
    expect(new Set(uids).size).toBe(uids.length);
  });

  for (const [file, d] of dashboards) {
    describe(file, () => {
      it('has unique panel ids and grid positions inside 24 columns', () => {
        const ids = allPanels(d).map((p) => p.id);
        expect(ids.every((i) => Number.isInteger(i) && i > 0)).toBe(true);
        expect(new Set(ids).size).toBe(ids.length);
        for (const p of allPanels(d) as unknown as { gridPos: { x: number; w: number } }[]) expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      });

      it('uses only provisioned datasource uids, with matching types', () => {
        const known = new Map(provisioned.datasources.map((ds) => [ds.uid, ds.type]));
        const refs = [
          ...allPanels(d).flatMap((p) => [p.datasource, ...(p.targets ?? []).map((t) => t.datasource)]),
          ...d.templating.list.map((v) => v.datasource),
        ].filter((x) => x !== undefined);
        expect(refs.length).toBeGreaterThan(0);
        for (const r of refs) expect(known.get(r.uid ?? ''), JSON.stringify(r)).toBe(r.type);
      });

      it('defines every variable it references', () => {
        const defined = new Set(d.templating.list.map((v) => v.name));
        const texts = [...queriesOf(file, d).map((q) => q.text), ...d.templating.list.map((v) => variableQuery(v) ?? ''), ...allPanels(d).map((p) => p.title)];
        for (const t of texts) {
          for (const name of referencedVariables(t)) expect(defined.has(name) || BUILTIN_VARIABLES.has(name), `$${name} in ${t}`).toBe(true);
        }
      });

      it('has a query in every panel', () => {
        for (const p of allPanels(d)) expect((p.targets ?? []).length, p.title).toBeGreaterThan(0);
      });
    });
  }

  it('covers what the issue asks for', () => {
    const titles = (f: string) => allPanels(dashboards.get(f)!).map((p) => p.title.toLowerCase()).join('\n');
    for (const word of ['throughput', 'lag', 'latency', 'invalid', 'late', 'imputed', 'batch size', 'serving model', 'training runs', 'restore', 'checkpoint']) {
      expect(titles('pipeline-health.json')).toContain(word);
    }
    for (const word of ['actual vs forecast', 'by horizon', 'skill', 'coverage']) expect(titles('forecasts.json')).toContain(word);
    expect(dashboards.get('forecasts.json')!.templating.list.map((v) => v.name)).toEqual(['pipeline', 'series', 'h']);
  });

  describe('first-hour fixes (issue 15)', () => {
    const forecasts = dashboards.get('forecasts.json')!;
    const health = dashboards.get('pipeline-health.json')!;
    const panelOf = (d: typeof forecasts, prefix: string) => {
      const p = allPanels(d).find((x) => x.title.startsWith(prefix));
      if (p === undefined) throw new Error(`no panel "${prefix}…"`);
      return p as typeof p & { fieldConfig?: { overrides?: Array<{ matcher: { id: string; options: string }; properties: Array<{ id: string; value: unknown }> }> }; transformations?: Array<{ id: string; options: any }> };
    };

    it('$h lists the pipeline\'s horizons from a query, in numeric order (not a fixed 1,2,3,6,12)', () => {
      const h = forecasts.templating.list.find((v) => v.name === 'h')! as { type: string; datasource?: { type?: string }; sort?: number };
      expect(h.type).toBe('query');
      expect(h.datasource?.type).toBe('prometheus');
      expect(variableQuery(h as never)).toMatch(/^label_values\(streamcast_forecast_scored_total\{.*\}, horizon\)$/);
      expect(h.sort).toBe(3);
    });

    it('each model\'s band fills from its own upper line to its own lower line', () => {
      const overrides = panelOf(forecasts, 'Actual vs forecast').fieldConfig?.overrides ?? [];
      const fills = overrides.flatMap((o) => o.properties.filter((p) => p.id === 'custom.fillBelowTo').map((p) => [o.matcher, p.value] as const));
      expect(fills.length).toBe(2);
      for (const [matcher, to] of fills) {
        expect(matcher.id).toBe('byName');
        expect(to).toBe(matcher.options.replace(/^upper /, 'lower '));
      }
    });

    it('Actual plots observed values only', () => {
      const actual = panelOf(forecasts, 'Actual vs forecast').targets!.find((t) => t.refId === 'A')!;
      expect(actual.query).toMatch(/FROM "actual" WHERE .*"imputed" = false/);
    });

    it('the MAE bar gauge sorts its bars by h as a number', () => {
      const ids = (panelOf(forecasts, 'Mean absolute error by horizon').transformations ?? []).map((t) => t.id);
      const t = panelOf(forecasts, 'Mean absolute error by horizon').transformations ?? [];
      const convert = t.findIndex((x) => x.id === 'convertFieldType' && x.options.conversions.some((c: { targetField: string; destinationType: string }) => c.targetField === 'h' && c.destinationType === 'number'));
      const sort = t.findIndex((x) => x.id === 'sortBy' && x.options.sort[0].field === 'h');
      expect(convert, ids.join(',')).toBeGreaterThanOrEqual(0);
      expect(sort).toBeGreaterThan(convert);
    });

    it('Training duration p90 reads every run since start, not a rate over minutes of a weekly event', () => {
      for (const t of panelOf(health, 'Training duration p90').targets!) expect(t.expr).not.toMatch(/\b(rate|irate|increase)\(/);
    });

    it('has panels for sink errors, process CPU / event-loop lag / memory / GC and the scale-free skill', () => {
      const exprs = (d: typeof forecasts) => queriesOf('', d).map((q) => q.text).join('\n');
      for (const m of ['streamcast_sink_errors_total', 'streamcast_process_cpu_seconds_total', 'streamcast_nodejs_eventloop_lag_p99_seconds', 'streamcast_nodejs_heap_size_used_bytes', 'streamcast_nodejs_gc_duration_seconds_sum']) {
        expect(exprs(health)).toContain(m);
      }
      expect(exprs(forecasts)).toContain('streamcast_forecast_scaled_abs_error_total');
    });

    it('both dashboards annotate model changes', () => {
      for (const d of [forecasts, health]) {
        const a = annotationsOf(d);
        expect(a.map((x) => x.name)).toContain('Model changes');
        expect(a.find((x) => x.name === 'Model changes')!.expr).toMatch(/streamcast_model_info.* unless .*offset/);
      }
    });
  });
});
