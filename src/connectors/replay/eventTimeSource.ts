import { tap } from 'rxjs';
import type { ManualClock } from '../../domain/clock.js';
import { pipeSource } from '../mapSource.js';
import type { Source } from '../source.js';

/**
 * Makes a replayed source drive a clock with the newest event time it has delivered, so that
 * idle close and other clock-driven logic follow the data rather than the wall clock (a replay
 * at full speed would otherwise never see a series go idle).
 */
export function withEventTimeClock(source: Source, clock: ManualClock): Source {
  return pipeSource(
    source,
    tap((rec) => {
      for (const p of rec.points) if (p.ts > clock.now()) clock.set(p.ts);
    }),
  );
}
