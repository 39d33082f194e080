import type { EventListener, PipelineEvent } from './events.js';

/** Totals of a run kept from the event stream, for end-of-run summaries and progress lines. */
export class RunStats {
  records = 0;
  points = 0;
  late = 0;
  gapResets = 0;
  forecasts = 0;
  tombstones = 0;
  readonly invalid = new Map<string, number>();
  readonly imputed = new Map<string, number>();

  readonly listener: EventListener = (e: PipelineEvent) => {
    switch (e.type) {
      case 'records_in':
        this.records += e.count;
        break;
      case 'points_in':
        this.points += e.count;
        break;
      case 'invalid':
        this.invalid.set(e.reason, (this.invalid.get(e.reason) ?? 0) + e.count);
        break;
      case 'tombstones':
        this.tombstones += e.count;
        break;
      case 'late':
        this.late += e.count;
        break;
      case 'imputed':
        this.imputed.set(e.strategy, (this.imputed.get(e.strategy) ?? 0) + e.count);
        break;
      case 'gap_reset':
        this.gapResets += e.count;
        break;
      case 'forecasts_out':
        this.forecasts += e.count;
        break;
      default:
        break;
    }
  };

  toJSON(): Record<string, unknown> {
    return {
      records: this.records,
      points: this.points,
      late: this.late,
      gapResets: this.gapResets,
      forecasts: this.forecasts,
      tombstones: this.tombstones,
      invalid: Object.fromEntries(this.invalid),
      imputed: Object.fromEntries(this.imputed),
    };
  }
}
