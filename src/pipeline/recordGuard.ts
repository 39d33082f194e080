import { Observable, type OperatorFunction } from 'rxjs';
import type { Ingested } from '../domain/ingested.js';
import type { Point } from '../domain/point.js';

/**
 * Keeps a record whose points make the operator chain throw from stopping the pipeline: the
 * record is handed to `onFailed` (which dead-letters it as `internal_error`) and the next record
 * flows as usual. Without it one such record errored the whole stream: the Kafka consumer
 * crashed, restarted at the last commit, and met the same record again, for ever.
 *
 * The operators report errors downstream rather than throwing them back up, so they call
 * `caught` from their error paths: it claims errors raised while a record's points are being
 * pushed (everything is synchronous up to the micro-batcher) and leaves the others (idle
 * ticks, flush on completion, a batch's forecasting) to error the stream as before. The first
 * error of a record ends it: its remaining points are not pushed; those already pushed stay.
 * No allocation per record on the normal path.
 */
export class RecordGuard {
  private current: Ingested | undefined;
  private failure: { error: unknown; point: number } | undefined;
  private pointIndex = 0;

  constructor(private readonly onFailed: (rec: Ingested, error: unknown, pointIndex: number) => void) {}

  /** For the operators' error paths: true when the error was the current record's (handled). */
  readonly caught = (error: unknown): boolean => {
    if (this.current === undefined) return false;
    this.failure ??= { error, point: this.pointIndex };
    return true;
  };

  /** Records → their points, each record pushed under the guard. */
  points(): OperatorFunction<Ingested, Point> {
    return (source) =>
      new Observable<Point>((subscriber) =>
        source.subscribe({
          next: (rec) => {
            this.current = rec;
            try {
              const pts = rec.points;
              for (let i = 0; i < pts.length && this.failure === undefined; i++) {
                this.pointIndex = i;
                subscriber.next(pts[i]!);
              }
            } catch (err) {
              // A subscriber that throws instead of reporting downstream: the record's all the same.
              this.failure ??= { error: err, point: this.pointIndex };
            } finally {
              this.current = undefined;
            }
            const f = this.failure;
            if (f !== undefined) {
              this.failure = undefined;
              this.onFailed(rec, f.error, f.point);
            }
          },
          error: (err: unknown) => subscriber.error(err),
          complete: () => subscriber.complete(),
        }),
      );
  }
}
