import type { BaselineOptions } from './pointBaseline.js';
import { PointBaselineForecaster } from './pointBaseline.js';

/**
 * Forecasts the last value (observed or imputed) for every horizon — the random-walk forecast,
 * hard to beat on short horizons. Its bands come from its own recent errors per horizon.
 */
export class LastValueForecaster extends PointBaselineForecaster<null> {
  protected readonly kindByte = 1;
  protected readonly layoutParam = 0;

  constructor(opts: BaselineOptions) {
    super(opts);
  }

  protected newModel(): null {
    return null;
  }
  protected clearModel(): void {}
  protected learn(): void {}
  protected forecastPoints(_model: null, last: number, out: Float64Array): void {
    out.fill(last);
  }
  protected isWarm(_model: null, steps: number): boolean {
    return steps >= 1;
  }
  protected modelByteLength(): number {
    return 0;
  }
  protected legacyModelByteLength(): number {
    return 0;
  }
  protected writeModel(_model: null, _view: DataView, offset: number): number {
    return offset;
  }
  protected readModel(_model: null, _view: DataView, offset: number): number {
    return offset;
  }
}
