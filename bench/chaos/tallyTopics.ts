import { addForecast, expectedKeysOf, newTally, type Tally } from './forecastTally.js';
import { STEP_MS } from './steadyInput.js';
import { readTopic } from './topicReader.js';

/** The (series, step) keys that the records now in `input` ask forecasts for. */
export async function expectedFrom(brokers: string, input: string): Promise<Set<string>> {
  const keys = new Set<string>();
  const ok = await readTopic(brokers, input, { readCommitted: false }, (l) => expectedKeysOf(l, STEP_MS, keys));
  if (!ok) throw new Error(`could not read the input topic ${input} back with kcat`);
  return keys;
}

/** The forecasts now in `output` (committed ones only: read_committed), tallied per key. */
export async function tallyOf(brokers: string, output: string, keepValues: boolean): Promise<Tally & { readable: boolean }> {
  const t = newTally(keepValues);
  const readable = await readTopic(brokers, output, { readCommitted: true }, (l) => addForecast(t, l));
  return Object.assign(t, { readable });
}
