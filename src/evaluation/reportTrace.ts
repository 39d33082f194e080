import type { Forecast } from '../domain/forecast.js';
import type { NormalizedStep } from '../domain/step.js';

/** One plotted step: the actual (null where it was imputed) and each model's h-step-ahead band. */
export interface TracePoint {
  readonly ts: number;
  readonly actual: number | null;
  readonly models: Record<string, { readonly mean: number; readonly lo: number; readonly hi: number } | undefined>;
}

/**
 * Keeps, for one series, the newest `capacity` steps of actuals next to what each model had
 * forecast for them `h` steps earlier — the material of the report's forecast-vs-actual plot.
 * Bounded memory whatever the length of the backtest.
 */
export class ReportTrace {
  private series?: string;
  private readonly points: TracePoint[] = [];
  // Forecasts waiting for their target: model → target ts → band.
  private readonly pending = new Map<string, Map<number, { mean: number; lo: number; hi: number }>>();

  constructor(
    private readonly h = 1,
    private readonly capacity = 672,
  ) {}

  /** The series traced: the first one seen unless one is named. */
  follow(series: string): void {
    this.series ??= series;
  }

  addActual(step: NormalizedStep): void {
    this.follow(step.series);
    if (step.series !== this.series) return;
    const models: TracePoint['models'] = {};
    for (const [model, byTs] of this.pending) {
      models[model] = byTs.get(step.ts);
      byTs.delete(step.ts);
      // Anything older than this step can no longer be matched.
      for (const ts of byTs.keys()) if (ts < step.ts) byTs.delete(ts);
    }
    this.points.push({ ts: step.ts, actual: step.observed ? step.value : null, models });
    if (this.points.length > this.capacity) this.points.shift();
  }

  addForecast(model: string, f: Forecast): void {
    if (f.series !== this.series) return;
    const cell = f.forecast[this.h - 1];
    if (!cell) return;
    const qs = Object.values(cell.q);
    const band = { mean: cell.mean, lo: qs[0] ?? cell.mean, hi: qs[qs.length - 1] ?? cell.mean };
    let byTs = this.pending.get(model);
    if (!byTs) this.pending.set(model, (byTs = new Map()));
    byTs.set(cell.ts, band);
  }

  get tracedSeries(): string | undefined {
    return this.series;
  }

  get horizon(): number {
    return this.h;
  }

  toArray(): readonly TracePoint[] {
    return this.points;
  }
}
