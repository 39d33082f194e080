import type { EpochMs } from './point.js';

export const TIME_FEATURES = ['hourOfDay', 'dayOfWeek', 'dayOfYear', 'minuteOfHour'] as const;
export type TimeFeature = (typeof TIME_FEATURES)[number];

const DAY = 86_400_000;

/** Phase in [0, 1) of `ts` within each feature's cycle, in UTC. */
function phase(feature: TimeFeature, ts: EpochMs): number {
  switch (feature) {
    case 'minuteOfHour':
      return (((ts % 3_600_000) + 3_600_000) % 3_600_000) / 3_600_000;
    case 'hourOfDay':
      return (((ts % DAY) + DAY) % DAY) / DAY;
    case 'dayOfWeek':
      // 1970-01-01 was a Thursday; shift so that Monday 00:00 is phase 0.
      return ((((ts + 3 * DAY) % (7 * DAY)) + 7 * DAY) % (7 * DAY)) / (7 * DAY);
    case 'dayOfYear':
      return (((ts % (365.25 * DAY)) + 365.25 * DAY) % (365.25 * DAY)) / (365.25 * DAY);
  }
}

/** Writes sin/cos pairs for each feature into `out` at `offset`; returns the next offset. */
export function writeTimeFeatures(
  features: readonly TimeFeature[],
  ts: EpochMs,
  out: Float32Array | number[],
  offset: number,
): number {
  let o = offset;
  for (const f of features) {
    const a = 2 * Math.PI * phase(f, ts);
    out[o++] = Math.sin(a);
    out[o++] = Math.cos(a);
  }
  return o;
}
