/**
 * Honest progress on stderr: the scenario, its elapsed time and the whole run's, and what each
 * part of it (one line per guarantee) is doing now, every few seconds and at each change.
 */
export class Progress {
  readonly #t0 = performance.now();
  #scenario = '';
  #scenarioT0 = performance.now();
  readonly #phases = new Map<string, { what: string; since: number }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly everyMs = 5000) {}

  scenario(name: string): void {
    this.#scenario = name;
    this.#scenarioT0 = performance.now();
    this.#phases.clear();
    this.#timer ??= setInterval(() => this.#print(), this.everyMs).unref();
    this.#print();
  }

  /** What `part` (e.g. a guarantee) is doing now; printed at once. */
  phase(part: string, what: string): void {
    this.#phases.set(part, { what, since: performance.now() });
    this.#print(part);
  }

  /** Seconds since the scenario started. */
  elapsedS(): number {
    return (performance.now() - this.#scenarioT0) / 1000;
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #print(only?: string): void {
    const head = `chaos ${this.#scenario} +${fmt(this.elapsedS())} (total ${fmt((performance.now() - this.#t0) / 1000)})`;
    const parts = [...this.#phases].filter(([p]) => only === undefined || p === only);
    if (parts.length === 0) process.stderr.write(`${head}\n`);
    for (const [part, { what, since }] of parts) process.stderr.write(`${head} ${part}: ${what} [${fmt((performance.now() - since) / 1000)}]\n`);
  }
}

function fmt(s: number): string {
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`;
}
