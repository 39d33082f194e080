import { setTimeout as sleep } from 'node:timers/promises';
import { chaosPipeline, createTopic, type ChaosPipeline, type Guarantee } from './chaosPipeline.js';
import { exitText, failedRow, secs, type ChaosRow } from './chaosTable.js';
import { compare } from './forecastTally.js';
import { groupOffsets, reached, type GroupOffsets } from './groupOffsets.js';
import type { ScenarioContext } from './scenarioContext.js';
import { settled } from './settled.js';
import { SteadyInput } from './steadyInput.js';
import { StreamcastChild } from './streamcastChild.js';
import { expectedFrom, tallyOf } from './tallyTopics.js';
import { TopicTail } from './topicReader.js';
import { waitUntil } from './waitUntil.js';

const PARTITIONS = 2;
/**
 * Pause between a kill and the restart, so that forecasts the killed process had in flight
 * reach the tail before the restart and are not taken for the new process' first.
 */
const SETTLE_MS = 1000;
/** Seconds of steady input after the last recovery, before the input stops. */
const TAIL_S = 3;

interface KillRecord {
  /** Seconds from the restart to its first new forecast visible (read_committed). */
  firstForecastS: number | undefined;
  /** Seconds from the restart until the group committed everything that was in the input at the restart. */
  caughtUpS: number | undefined;
  /** The killed process had already exited by itself (code) before its kill. */
  exitedBeforeKill?: number | null;
}

/**
 * kill -9 of `streamcast run` at random moments while a steady input is processed, restarted
 * each time; both guarantees at once (separate pipelines). Afterwards an uninterrupted reference
 * run reads the same input, and every (series, step) is checked: lost, duplicated, and values
 * identical to the reference's.
 */
export async function kill9Scenario(ctx: ScenarioContext): Promise<ChaosRow[]> {
  return Promise.all((['at-least-once', 'exactly-once'] as const).map((g) => killRun(ctx, g)));
}

async function killRun(ctx: ScenarioContext, g: Guarantee): Promise<ChaosRow> {
  const { cfg, broker, root, progress } = ctx;
  const { brokers } = broker;
  const say = (what: string) => progress.phase(g, what);
  const p = chaosPipeline('kill9', g);
  await createTopic(brokers, p.input, PARTITIONS);
  let sc = new StreamcastChild(root, p.specPath, brokers);
  say('starting streamcast');
  const readyS = await sc.ready(cfg.waitS);
  if (readyS === undefined) {
    const t = await sc.terminate(10);
    return failedRow(g, `never ready within ${cfg.waitS} s (exit ${JSON.stringify(t)})`, sc.stderrTail());
  }
  const tail = new TopicTail(brokers, p.output);
  const input = new SteadyInput(brokers, p.input, p.name, cfg.kill9.series, cfg.kill9.rate);
  const kills: KillRecord[] = [];
  let errors = 0;
  for (let k = 1; k <= cfg.kill9.kills; k++) {
    const [lo, hi] = cfg.kill9.gapS;
    const gap = lo + ctx.random() * (hi - lo);
    say(`processing; kill ${k}/${cfg.kill9.kills} in ${gap.toFixed(1)} s (input step ${input.steps})`);
    await sleep(gap * 1000);
    const record: KillRecord = { firstForecastS: undefined, caughtUpS: undefined };
    if (!sc.alive()) record.exitedBeforeKill = sc.exit()?.code ?? null;
    await sc.kill9();
    errors += sc.errorsLogged();
    await sleep(SETTLE_MS);
    const atRestart = await offsetsNow(brokers, p);
    sc = new StreamcastChild(root, p.specPath, brokers);
    const t = sc.startedAt;
    say(`kill ${k}: restarted, waiting for its first forecast and for it to catch up (≤ ${cfg.waitS} s)`);
    await waitUntil(
      async () => {
        const first = tail.firstAfter(t);
        if (first !== undefined) record.firstForecastS ??= (first - t) / 1000;
        if (record.caughtUpS === undefined && atRestart !== undefined) {
          const o = await groupOffsets(brokers, p.groupId, p.input);
          if (o !== undefined && reached(o.committed, atRestart.end)) record.caughtUpS = (performance.now() - t) / 1000;
        }
        return record.firstForecastS !== undefined && record.caughtUpS !== undefined;
      },
      cfg.waitS,
      { giveUp: () => !sc.alive() },
    );
    kills.push(record);
    if (record.caughtUpS === undefined) break; // not recovered: more kills would measure nothing new
  }
  say(`last kill done; ${TAIL_S} s more input, then draining`);
  await sleep(TAIL_S * 1000);
  const delivered = await input.stop();
  const stoppedAt = performance.now();
  const drainedS = await waitUntil(() => settled(brokers, p, tail, stoppedAt), cfg.waitS, { giveUp: () => !sc.alive() });
  const alive = sc.alive();
  const term = await sc.terminate(30);
  errors += sc.errorsLogged();
  tail.stop();

  say('reference run (uninterrupted) on the same input');
  const ref = chaosPipeline('kill9-ref', g, p.input);
  const rsc = new StreamcastChild(root, ref.specPath, brokers);
  const refTail = new TopicTail(brokers, ref.output);
  const refDrainedS = await waitUntil(() => settled(brokers, ref, refTail, rsc.startedAt), cfg.waitS * 2, { giveUp: () => !rsc.alive() });
  await rsc.terminate(30);
  refTail.stop();

  say('counting forecasts');
  const expected = await expectedFrom(brokers, p.input);
  const got = await tallyOf(brokers, p.output, true);
  const refTally = await tallyOf(brokers, ref.output, true);
  const c = compare(expected, got, refTally);
  const rc = compare(expected, refTally);
  const firsts = kills.map((r) => r.firstForecastS);
  const caught = kills.map((r) => r.caughtUpS);
  const notes = [
    `${kills.length} kills, ${expected.size} steps`,
    g === 'exactly-once' ? `values ≠ reference: ${String(c.mismatched)}` : `values ≠ reference: ${String(c.mismatched)} (copies beyond first: ${c.extraCopies})`,
    rc.lost + rc.duplicated > 0 ? `reference itself lost ${rc.lost}, dup ${rc.duplicated}` : 'reference complete',
    drainedS === undefined ? `not drained within ${cfg.waitS} s` : `last forecast ${secs(((tail.last() ?? stoppedAt) - stoppedAt) / 1000)} s after the input stopped`,
    `SIGTERM: ${exitText(term)}`,
    ...(errors > 0 ? [`${errors} error logs`] : []),
    ...(c.violations > 0 ? [`${c.violations} forecasts break the contract`] : []),
    ...(!delivered ? ['input producer reported a failure'] : []),
  ];
  return {
    scenario: 'kill -9 streamcast',
    guarantee: g,
    lost: c.lost,
    duplicated: c.duplicated,
    recovery: `first ${worst(firsts)} / caught up ${worst(caught)} (worst of ${kills.length})`,
    rssPerSeries: '—',
    notes: notes.join('; '),
    detail: { pipeline: p.name, readyS, kills, drainedS, aliveBeforeSigterm: alive, sigterm: term, errorsLogged: errors, comparison: c, reference: { pipeline: ref.name, drainedS: refDrainedS, comparison: rc }, inputDelivered: delivered, stderrTail: sc.stderrTail(2000) },
  };
}

/** The worst (largest) of the figures, "none" for a recovery that never came. */
function worst(xs: ReadonlyArray<number | undefined>): string {
  if (xs.length === 0) return '—';
  if (xs.some((x) => x === undefined)) return 'never';
  return secs(Math.max(...(xs as number[])));
}

async function offsetsNow(brokers: string, p: ChaosPipeline): Promise<GroupOffsets | undefined> {
  for (let i = 0; i < 10; i++) {
    const o = await groupOffsets(brokers, p.groupId, p.input);
    if (o !== undefined) return o;
    await sleep(200);
  }
  return undefined;
}
