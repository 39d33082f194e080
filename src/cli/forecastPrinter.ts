import type { Forecast } from '../domain/forecast.js';
import type { Sink } from '../connectors/sink.js';

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2));

/** Prints each forecast as one readable line: how far the data set is, origin, series, then a few horizons with bands. */
export class ForecastPrinter implements Sink<Forecast> {
  readonly name = 'demo-printer';
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly progress: () => number,
  ) {}
  async write(items: readonly Forecast[]): Promise<void> {
    let text = '';
    const pct = `[${(this.progress() * 100).toFixed(0).padStart(3)}%]`;
    for (const f of items) {
      const picks = [f.forecast[0], f.forecast[5], f.forecast[f.forecast.length - 1]].filter((x, i, a) => x && a.indexOf(x) === i);
      const cells = picks.map((h) => {
        const qs = Object.values(h!.q);
        return `+${h!.h}h ${fmt(h!.mean)} [${fmt(qs[0]!)}, ${fmt(qs[qs.length - 1]!)}]`;
      });
      text += `${pct} ${new Date(f.ts).toISOString().slice(0, 16)}Z ${f.series.padEnd(11)} ${f.imputed ? '(imputed) ' : ''}${cells.join('  ')}  ${f.model.kind}\n`;
    }
    if (!this.out.write(text)) await new Promise((r) => this.out.once('drain', r));
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
