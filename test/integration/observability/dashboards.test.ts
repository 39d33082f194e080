import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { BUILTIN_VARIABLES, allPanels, grafanaDir, loadDashboards, queriesOf, referencedVariables, variableQuery } from '../../helpers/dashboards.js';

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
});
