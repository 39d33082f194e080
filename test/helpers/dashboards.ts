import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './cli.js';

/** The provisioned Grafana dashboards, and the queries in them, for the observability tests. */
export const grafanaDir = join(repoRoot, 'deploy', 'grafana');

export interface Target {
  readonly refId: string;
  readonly datasource?: { type?: string; uid?: string };
  readonly expr?: string;
  readonly query?: string;
}

export interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { type?: string; uid?: string };
  readonly targets?: Target[];
  readonly panels?: Panel[];
}

export interface Variable {
  readonly name: string;
  readonly type: string;
  readonly datasource?: { type?: string; uid?: string };
  readonly query?: string | { query?: string };
}

export interface Annotation {
  readonly name: string;
  readonly datasource?: { type?: string; uid?: string };
  readonly expr?: string;
  readonly query?: string;
}

export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: Panel[];
  readonly templating: { list: Variable[] };
  readonly annotations?: { list: Annotation[] };
}

/** Annotation queries of a dashboard (Grafana's built-in annotations have no datasource query). */
export function annotationsOf(d: Dashboard): Annotation[] {
  return (d.annotations?.list ?? []).filter((a) => a.expr !== undefined || a.query !== undefined);
}

export function loadDashboards(): Map<string, Dashboard> {
  const dir = join(grafanaDir, 'dashboards');
  const out = new Map<string, Dashboard>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    out.set(f, JSON.parse(readFileSync(join(dir, f), 'utf8')) as Dashboard);
  }
  return out;
}

/** Panels including those nested in rows. */
export function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

export interface Query {
  readonly dashboard: string;
  readonly panel: string;
  readonly refId: string;
  readonly kind: 'prometheus' | 'influxdb';
  readonly text: string;
}

export function queriesOf(file: string, d: Dashboard): Query[] {
  const out: Query[] = [];
  for (const p of allPanels(d)) {
    for (const t of p.targets ?? []) {
      const kind = (t.datasource ?? p.datasource)?.type;
      const text = kind === 'influxdb' ? t.query : t.expr;
      if ((kind === 'prometheus' || kind === 'influxdb') && text !== undefined) out.push({ dashboard: file, panel: p.title, refId: t.refId, kind, text });
    }
  }
  return out;
}

export function variableQuery(v: Variable): string | undefined {
  return typeof v.query === 'string' ? v.query : v.query?.query;
}

/** `$name`, `${name}` and `[[name]]` references in a query. */
export function referencedVariables(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g)) names.add((m[1] ?? m[2] ?? m[3])!);
  return [...names];
}

/** Grafana's own variables, always defined. */
export const BUILTIN_VARIABLES = new Set(['__rate_interval', '__interval', '__interval_ms', '__range', '__range_s', 'timeFilter', '__timeFilter', 'tag_model', 'tag_h', 'tag_series', 'col', 'm']);

/** Substitutes variables as Grafana would for a given selection (longest names first). */
export function substitute(text: string, values: Readonly<Record<string, string>>): string {
  let out = text;
  for (const name of Object.keys(values).sort((a, b) => b.length - a.length)) {
    const v = values[name]!;
    out = out.split(`\${${name}}`).join(v).split(`[[${name}]]`).join(v).split(`$${name}`).join(v);
  }
  return out;
}
