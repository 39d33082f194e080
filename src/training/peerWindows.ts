import type { SeriesWindow } from '../state/seriesWindow.js';

/** What a retrain asks of a source of other instances' history (PeerWindowSource). */
export interface PeerWindowsRequest {
  /** Steps kept per series here (the serving history's capacity): a peer series keeps no more. */
  readonly capacity: number;
  /** Aborted when the retrain is abandoned (closing, retraining turned off): the read stops. */
  readonly signal: AbortSignal;
}

/** Training windows of series this instance does not hold (held by the other instances). */
export interface PeerWindows {
  readonly windows: readonly SeriesWindow[];
  /** Series the windows come from. */
  readonly series: number;
  /**
   * Peer records left out by the source's bound on how many series it takes: 0 when none was,
   * else at least one per series left out (uncompacted records of one series count each).
   */
  readonly sampledOut: number;
  /** Peer series whose state could not be used (unreadable, or written under another window.step). */
  readonly skipped: number;
}

/**
 * Where a retrain gets the windows of the series other instances hold (under Kafka: the state
 * changelog partitions this instance does not own, src/runtime/peerHistory.ts). A rejection only
 * costs the retrain those windows: it trains on its own history.
 */
export type PeerWindowSource = (request: PeerWindowsRequest) => Promise<PeerWindows>;

/** Series and steps a retrain trained on, by origin. */
export interface WindowCounts {
  readonly series: number;
  readonly steps: number;
}

export interface MergedWindows {
  readonly windows: SeriesWindow[];
  readonly own: WindowCounts;
  readonly peer: WindowCounts;
}

/**
 * The training windows of one retrain: its own history's first, then the peers' windows of
 * series it does not hold itself (a series that just moved here is held here with its full
 * history; a peer's copy is a snapshot tail). Windows of fewer than 2 steps are left out, as own
 * ones are.
 */
export function mergePeerWindows(own: readonly SeriesWindow[], peer: PeerWindows | undefined): MergedWindows {
  const held = new Set<string>();
  let ownSteps = 0;
  for (const w of own) {
    held.add(w.series);
    ownSteps += w.length;
  }
  const windows = [...own];
  const peerSeries = new Set<string>();
  let peerSteps = 0;
  for (const w of peer?.windows ?? []) {
    if (held.has(w.series) || w.length < 2) continue;
    windows.push(w);
    peerSeries.add(w.series);
    peerSteps += w.length;
  }
  return { windows, own: { series: held.size, steps: ownSteps }, peer: { series: peerSeries.size, steps: peerSteps } };
}
