import type { ChaosPipeline } from './chaosPipeline.js';
import { committedToEnd } from './groupOffsets.js';
import type { TopicTail } from './topicReader.js';

/**
 * Seconds without a new forecast before a drained pipeline counts as settled. Its input's last
 * steps close only by idle close (2 s in the chaos specs) once the input stops, after the input
 * that carried them was committed (their points are in the checkpointed state): all input
 * committed is not yet all forecasts out.
 */
export const QUIET_S = 5;

/** All of `p`'s input committed and no forecast on `tail` for QUIET_S (counted from `since` at the earliest). */
export async function settled(brokers: string, p: ChaosPipeline, tail: TopicTail, since: number): Promise<boolean> {
  const lastSeen = Math.max(since, tail.last() ?? since);
  if (performance.now() - lastSeen < QUIET_S * 1000) return false;
  return committedToEnd(brokers, p.groupId, p.input);
}
