import type { DeadLetter } from '../domain/deadLetter.js';
import type { Point } from '../domain/point.js';

/** What one input record decodes to: points, and a dead letter per malformed part. */
export interface Decoded {
  points: Point[];
  deadLetters: DeadLetter[];
}
