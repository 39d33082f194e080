import { formatDuration } from '../../domain/duration.js';
import { ConfigError } from '../../domain/errors.js';
import type { Forecaster, ForecasterOptions } from '../forecaster.js';
import { LastValueForecaster } from './lastValue.js';
import type { BaselineOptions } from './pointBaseline.js';
import { SeasonalNaiveForecaster } from './seasonalNaive.js';

export interface BaselineSpec {
  readonly type: 'seasonal-naive' | 'last-value';
  /** The season in ms (ignored by last-value); a whole number of steps. */
  readonly seasonMs: number;
}

/** Builds the baseline a pipeline spec asks for (`baseline: { type, season }`). */
export function createBaseline(spec: BaselineSpec, opts: ForecasterOptions | BaselineOptions): Forecaster {
  switch (spec.type) {
    case 'last-value':
      return new LastValueForecaster(opts);
    case 'seasonal-naive': {
      const seasonSteps = spec.seasonMs / opts.stepMs;
      if (!Number.isInteger(seasonSteps) || seasonSteps < 1) {
        throw new ConfigError(
          `baseline.season (${formatDuration(spec.seasonMs)}) must be a whole number of steps (window.step = ${formatDuration(opts.stepMs)})`,
        );
      }
      return new SeasonalNaiveForecaster({ ...opts, seasonSteps });
    }
  }
}
