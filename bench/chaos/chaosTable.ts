/** One line of the chaos benchmark's table; `detail` goes to the JSON only. */
export interface ChaosRow {
  readonly scenario: string;
  readonly guarantee: string;
  readonly lost: number | string;
  readonly duplicated: number | string;
  /** Seconds, as text: several figures where the scenario has several (e.g. "first 4.1 / caught up 5.0"). */
  readonly recovery: string;
  readonly rssPerSeries: string;
  readonly notes: string;
  readonly detail: Record<string, unknown>;
}

const COLUMNS: Array<[string, (r: ChaosRow) => string]> = [
  ['scenario', (r) => r.scenario],
  ['guarantee', (r) => r.guarantee],
  ['lost', (r) => String(r.lost)],
  ['duplicated', (r) => String(r.duplicated)],
  ['recovery s', (r) => r.recovery],
  ['RSS/series', (r) => r.rssPerSeries],
  ['notes', (r) => r.notes],
];

/** A plain table (Markdown pipes, so it pastes into docs/benchmarks.md as it is). */
export function renderTable(rows: readonly ChaosRow[]): string {
  const cells = rows.map((r) => COLUMNS.map(([, get]) => get(r).replaceAll('|', '/')));
  const widths = COLUMNS.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(COLUMNS.map(([h]) => h)), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

/** Seconds with one decimal, or "—" for none. */
export function secs(s: number | undefined): string {
  return s === undefined ? '—' : s.toFixed(1);
}

/** How a SIGTERM ended, in words. */
export function exitText(t: { code: number | null; signal: string | null; seconds: number; killed: boolean; alreadyExited: boolean }): string {
  if (t.alreadyExited) return `none needed, it had exited (${t.code ?? t.signal})`;
  return t.killed ? `no exit in ${t.seconds.toFixed(0)} s, SIGKILLed` : `exit ${t.code ?? t.signal} in ${t.seconds.toFixed(1)} s`;
}

/** The row of a run that could not be measured, and why. */
export function failedRow(g: string, why: string, stderrTail: string, scenario = 'kill -9 streamcast'): ChaosRow {
  return { scenario, guarantee: g, lost: '—', duplicated: '—', recovery: '—', rssPerSeries: '—', notes: why, detail: { stderrTail } };
}
