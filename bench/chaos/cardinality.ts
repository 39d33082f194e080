import { Kafka, logLevel } from 'kafkajs';
import { chaosPipeline, createTopic } from './chaosPipeline.js';
import { exitText, failedRow, secs, type ChaosRow } from './chaosTable.js';
import { compare } from './forecastTally.js';
import { describeOffsets, groupOffsets, QUICK_RETRY, reached, type GroupOffsets } from './groupOffsets.js';
import { produceLines } from './produceLines.js';
import type { ScenarioContext } from './scenarioContext.js';
import { pointLine } from './steadyInput.js';
import { StreamcastChild } from './streamcastChild.js';
import { expectedFrom, tallyOf } from './tallyTopics.js';
import { waitUntil } from './waitUntil.js';

const PARTITIONS = 4;
const RSS_EVERY_MS = 500;
/** Lines per chunk handed to kcat. */
const CHUNK = 10_000;
/** Once all input is committed, how long the forecast count may stand still before the drain is called over. */
const STILL_S = 20;

/**
 * N distinct series, one point each, then `extraPoints` more (one per following step) for a
 * share of them; at-least-once (the guarantee does not change what is held per series). RSS of
 * the process (VmRSS, all threads) sampled over time from an idle start.
 */
export async function cardinalityScenario(ctx: ScenarioContext): Promise<ChaosRow[]> {
  const { cfg, broker, root, progress } = ctx;
  const { brokers } = broker;
  const { series, extraShare, extraPoints, drainS } = cfg.cardinality;
  const g = 'at-least-once';
  const say = (what: string) => progress.phase(`${series} series`, what);
  const p = chaosPipeline('card', g);
  await createTopic(brokers, p.input, PARTITIONS);
  const sc = new StreamcastChild(root, p.specPath, brokers);
  say('starting streamcast on an empty input');
  if ((await sc.ready(cfg.waitS)) === undefined) {
    await sc.terminate(10);
    return [failedRow(g, `never ready within ${cfg.waitS} s`, sc.stderrTail(), 'cardinality')];
  }
  const baselines: number[] = [];
  await waitUntil(() => baselines.push(sc.rssKiB() ?? 0) >= 4, 10, { everyMs: RSS_EVERY_MS });
  const baselineKiB = median(baselines);
  const samples: Array<{ s: number; kib: number }> = [];
  const t0 = performance.now();
  const sampler = setInterval(() => {
    const kib = sc.rssKiB();
    if (kib !== undefined) samples.push({ s: (performance.now() - t0) / 1000, kib });
  }, RSS_EVERY_MS);

  const extra = Math.round(series * extraShare);
  say(`producing ${series} + ${extra} × ${extraPoints} points`);
  const delivered = await produceLines(brokers, p.input, chunks(p.name, series, extra, extraPoints));
  const producedS = (performance.now() - t0) / 1000;
  const expectedCount = series + extra * extraPoints;
  let forecasts = 0;
  let committed = false;
  let offsets: GroupOffsets | undefined;
  /** Seconds from the first input until every expected forecast was out. */
  let forecastsDoneS: number | undefined;
  let still = { count: -1, since: performance.now() };
  say(`draining (≤ ${drainS} s): waiting for the input to be committed and ${expectedCount} forecasts`);
  const drainedAfter = await waitUntil(
    async () => {
      const o = await groupOffsets(brokers, p.groupId, p.input);
      offsets = o ?? offsets;
      committed = o !== undefined && reached(o.committed, o.end);
      forecasts = (await outputCount(brokers, p.output)) ?? forecasts;
      if (forecasts >= expectedCount) forecastsDoneS ??= (performance.now() - t0) / 1000;
      if (forecasts !== still.count) still = { count: forecasts, since: performance.now() };
      say(`draining: ${forecasts}/${expectedCount} forecasts, input ${committed ? 'committed' : `committed/end ${describeOffsets(o)}`}, RSS ${mib(sc.rssKiB())}`);
      return committed && (forecasts >= expectedCount || performance.now() - still.since > STILL_S * 1000);
    },
    drainS,
    { everyMs: 1000, giveUp: () => !sc.alive() },
  );
  // Drained when the last forecast came (the count stood still since) or the expected count was reached.
  const drainS_ = drainedAfter === undefined ? undefined : ((forecasts >= expectedCount ? performance.now() : still.since) - t0) / 1000;
  const rssAtEnd = sc.rssKiB();
  const alive = sc.alive();
  say('SIGTERM');
  const term = await sc.terminate(120);
  clearInterval(sampler);

  say('counting forecasts');
  const c = compare(await expectedFrom(brokers, p.input), await tallyOf(brokers, p.output, false));
  const peak = Math.max(baselineKiB, ...samples.map((x) => x.kib));
  const perSeries = ((peak - baselineKiB) * 1024) / series;
  const notes = [
    `${c.forecasts}/${c.expected} forecasts`,
    drainS_ !== undefined
      ? `drained in ${secs(drainS_)} s (input produced in ${secs(producedS)} s)`
      : `not drained within ${drainS} s${alive ? '' : ' (process exited)'}: ${forecastsDoneS !== undefined ? `all forecasts out after ${secs(forecastsDoneS)} s` : `${forecasts} forecasts out`}, input committed/end ${describeOffsets(offsets)}`,
    `peak RSS ${mib(peak)} (baseline ${mib(baselineKiB)}, at end ${mib(rssAtEnd)})`,
    `SIGTERM: ${exitText(term)}`,
    ...(sc.errorsLogged() > 0 ? [`${sc.errorsLogged()} error logs`] : []),
    ...(!delivered ? ['input producer reported a failure'] : []),
  ];
  return [
    {
      scenario: `cardinality ${series} series`,
      guarantee: g,
      lost: c.lost,
      duplicated: c.duplicated,
      recovery: '—',
      rssPerSeries: `${Math.round(perSeries)} B`,
      notes: notes.join('; '),
      detail: { pipeline: p.name, baselineKiB, peakKiB: peak, rssAtEndKiB: rssAtEnd, bytesPerSeries: perSeries, producedS, drainS: drainS_, forecastsDoneS, forecastsAtDrain: forecasts, offsetsAtDrain: describeOffsets(offsets), sigterm: term, comparison: c, rss: thin(samples, 200), errorsLogged: sc.errorsLogged(), stderrTail: sc.stderrTail(3000) },
    },
  ];
}

/** The input: every series' first point (step 0), then `extraPoints` steps of the first `extra` series. */
function* chunks(prefix: string, series: number, extra: number, extraPoints: number): Generator<string> {
  let lines = '';
  let n = 0;
  const push = (line: string) => {
    lines += line;
    n++;
  };
  for (let s = 0; s < series; s++) {
    push(pointLine(prefix, s, 0));
    if (n >= CHUNK) {
      yield lines;
      lines = '';
      n = 0;
    }
  }
  for (let i = 1; i <= extraPoints; i++) {
    for (let s = 0; s < extra; s++) {
      push(pointLine(prefix, s, i));
      if (n >= CHUNK) {
        yield lines;
        lines = '';
        n = 0;
      }
    }
  }
  if (lines !== '') yield lines;
}

/** Records in `topic` (the sum of its end offsets; at-least-once writes no transaction markers). */
async function outputCount(brokers: string, topic: string): Promise<number | undefined> {
  const admin = new Kafka({ clientId: 'bench-chaos-probe', brokers: [brokers], logLevel: logLevel.NOTHING, retry: QUICK_RETRY }).admin();
  try {
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic);
    return ends.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } catch (err) {
    void err; // topic not there yet, or the broker busy: no figure this time
    return undefined;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] ?? 0;
}

function mib(kib: number | undefined): string {
  return kib === undefined ? '—' : `${(kib / 1024).toFixed(0)} MiB`;
}

/** At most `n` samples, evenly spaced, for the JSON. */
function thin<T>(xs: readonly T[], n: number): T[] {
  if (xs.length <= n) return [...xs];
  const step = xs.length / n;
  return Array.from({ length: n }, (_, i) => xs[Math.floor(i * step)]!);
}
