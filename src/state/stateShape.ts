import { formatDuration } from '../domain/duration.js';
import { StreamcastError } from '../domain/errors.js';
import type { PipelineSpec } from '../spec/pipelineSpec.js';

/**
 * The spec fields that a series' stored state depends on, written with every state frame so that
 * a restore under a changed spec can say what changed instead of quietly starting afresh.
 * Not in it, because state survives them: lateness, aggregate, maxJump (the resampler's buckets
 * keep every aggregate; the bounds apply from the next point), quantile levels (the baselines
 * keep residual windows and read any level from them; a GRU's state belongs to its model
 * version, which the frame already names), impute settings (a season ring of another length
 * restarts empty by itself), normalize.halfLife (the running moments stay valid).
 */
export interface StateShape {
  /** window.step: every core's state lies on this grid. */
  readonly step: number;
  /** model.horizon: the forecaster keeps residuals per horizon. */
  readonly horizon: number;
  readonly baseline: PipelineSpec['baseline']['type'];
  /** baseline.season in ms (0 for last-value, which has none): the seasonal baseline's ring. */
  readonly season: number;
}

/** What a stored shape differs in from the current one, and which state that costs. */
export interface ShapeChange {
  /** The spec field, as written in the YAML. */
  readonly field: 'window.step' | 'model.horizon' | 'baseline.type' | 'baseline.season';
  readonly old: string;
  readonly new: string;
  /** `all`: every core's state is dropped (the series starts afresh); `forecaster`: it re-warms. */
  readonly drops: 'all' | 'forecaster';
}

// Append only: the index is what frames store.
const BASELINES: readonly StateShape['baseline'][] = ['seasonal-naive', 'last-value'];

export const STATE_SHAPE_BYTES = 24;

export function stateShapeOf(spec: PipelineSpec): StateShape {
  return {
    step: spec.window.step,
    horizon: spec.model.horizon,
    baseline: spec.baseline.type,
    season: spec.baseline.type === 'seasonal-naive' ? spec.baseline.season : 0,
  };
}

/**
 * Writes `s` at `at` (STATE_SHAPE_BYTES, big endian as the frame): f64 step, u32 horizon,
 * u8 baseline, u8[3] 0, f64 season. In place: the state codec writes it into every frame.
 */
export function writeStateShape(view: DataView, at: number, s: StateShape): void {
  view.setFloat64(at, s.step);
  view.setUint32(at + 8, s.horizon >>> 0);
  view.setUint32(at + 12, 0);
  view.setUint8(at + 12, BASELINES.indexOf(s.baseline));
  view.setFloat64(at + 16, s.season);
}

export function decodeStateShape(b: Uint8Array): StateShape {
  if (b.byteLength !== STATE_SHAPE_BYTES) throw new StreamcastError('fatal', `state shape has ${b.byteLength} bytes, expected ${STATE_SHAPE_BYTES}`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const baseline = BASELINES[view.getUint8(12)];
  if (baseline === undefined) throw new StreamcastError('fatal', `state shape names baseline type ${view.getUint8(12)}, unknown to this build`);
  return { step: view.getFloat64(0), horizon: view.getUint32(8), baseline, season: view.getFloat64(16) };
}

/** What changed from `stored` (the frame's) to `current` (this process's spec); empty when nothing did. */
export function shapeChanges(stored: StateShape, current: StateShape): ShapeChange[] {
  const out: ShapeChange[] = [];
  if (stored.step !== current.step) out.push({ field: 'window.step', old: formatDuration(stored.step), new: formatDuration(current.step), drops: 'all' });
  if (stored.horizon !== current.horizon) out.push({ field: 'model.horizon', old: String(stored.horizon), new: String(current.horizon), drops: 'forecaster' });
  if (stored.baseline !== current.baseline) out.push({ field: 'baseline.type', old: stored.baseline, new: current.baseline, drops: 'forecaster' });
  else if (stored.season !== current.season) out.push({ field: 'baseline.season', old: formatDuration(stored.season), new: formatDuration(current.season), drops: 'forecaster' });
  return out;
}
