import type { EpochMs, SeriesId } from './point.js';

/** Quantile levels as the strings used in the output contract, e.g. "0.1". */
export type QuantileKey = string;

export interface HorizonForecast {
  /** Steps ahead, 1-based. */
  readonly h: number;
  readonly ts: EpochMs;
  readonly mean: number;
  readonly q: Readonly<Record<QuantileKey, number>>;
}

export type ModelKind = 'baseline' | 'gru';

export interface ModelInfo {
  readonly name: string;
  readonly version: number;
  readonly kind: ModelKind;
}

/** The forecast message of DESIGN.md, one per series per closed step. */
export interface Forecast {
  readonly series: SeriesId;
  /** The step the forecast was made at (the last closed step). */
  readonly ts: EpochMs;
  /** Step length in ms. */
  readonly step: number;
  readonly forecast: readonly HorizonForecast[];
  readonly model: ModelInfo;
  /** True when the value at `ts` was imputed rather than observed. */
  readonly imputed: boolean;
}

/** Canonical key for a quantile level: shortest decimal that round-trips ("0.1", "0.5", "0.95"). */
export function quantileKey(level: number): QuantileKey {
  return String(level);
}
