import type { DeadLetterReason } from '../domain/deadLetter.js';

/**
 * Typed events that subsystems emit; one adapter maps them to Prometheus metrics, another to
 * progress output. Subsystems never touch prom-client directly.
 */
export type PipelineEvent =
  | { readonly type: 'records_in'; readonly count: number }
  | { readonly type: 'points_in'; readonly count: number }
  | { readonly type: 'invalid'; readonly reason: DeadLetterReason; readonly count: number }
  | { readonly type: 'late'; readonly count: number }
  | { readonly type: 'imputed'; readonly strategy: string; readonly count: number }
  | { readonly type: 'gap_reset'; readonly count: number }
  | { readonly type: 'forecasts_out'; readonly count: number }
  | { readonly type: 'batch'; readonly size: number; readonly durationMs: number; readonly backend: string }
  | { readonly type: 'latency'; readonly seconds: number }
  | { readonly type: 'active_series'; readonly count: number };

export type EventListener = (event: PipelineEvent) => void;

export const ignoreEvents: EventListener = () => {};

/** Fans one event out to several listeners. */
export function fanOut(...listeners: EventListener[]): EventListener {
  return (e) => {
    for (const l of listeners) l(e);
  };
}
