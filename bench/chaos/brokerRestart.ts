import { setTimeout as sleep } from 'node:timers/promises';
import { chaosPipeline, createTopic, type ChaosPipeline, type Guarantee } from './chaosPipeline.js';
import { exitText, failedRow, secs, type ChaosRow } from './chaosTable.js';
import { compare } from './forecastTally.js';
import { describeOffsets, groupOffsets, reached, type GroupOffsets } from './groupOffsets.js';
import type { ScenarioContext } from './scenarioContext.js';
import { QUIET_S, settled } from './settled.js';
import { SteadyInput } from './steadyInput.js';
import { StreamcastChild } from './streamcastChild.js';
import { expectedFrom, tallyOf } from './tallyTopics.js';
import { TopicTail } from './topicReader.js';
import { waitUntil } from './waitUntil.js';

const PARTITIONS = 2;
/** Seconds the relaunched broker may take to serve the topics again. */
const BROKER_BACK_S = 120;

interface Running {
  readonly g: Guarantee;
  readonly p: ChaosPipeline;
  readonly sc: StreamcastChild;
  readonly tail: TopicTail;
  input: SteadyInput;
}

/**
 * kill -9 of the broker for each outage length, restarted on the same data directory, while a
 * pipeline of each guarantee processes a steady input (stopped, flushed, just before the kill and
 * started again once the broker is back). Recovery is counted from the broker serving again.
 */
export async function brokerRestartScenario(ctx: ScenarioContext): Promise<ChaosRow[]> {
  const rows: ChaosRow[] = [];
  for (const outageS of ctx.cfg.broker.outagesS) rows.push(...(await outage(ctx, outageS)));
  return rows;
}

async function outage(ctx: ScenarioContext, outageS: number): Promise<ChaosRow[]> {
  const { cfg, broker, root, progress } = ctx;
  const { brokers } = broker;
  const scenario = `broker kill -9 ${outageS} s`;
  const say = (what: string) => progress.phase('broker', `${outageS} s outage: ${what}`);
  say('starting a pipeline of each guarantee');
  const started = await Promise.all(
    (['at-least-once', 'exactly-once'] as const).map(async (g): Promise<Running | ChaosRow> => {
      const p = chaosPipeline(`broker${outageS}`, g);
      await createTopic(brokers, p.input, PARTITIONS);
      const sc = new StreamcastChild(root, p.specPath, brokers);
      if ((await sc.ready(cfg.waitS)) === undefined) {
        await sc.terminate(10);
        return failedRow(g, `never ready within ${cfg.waitS} s`, sc.stderrTail(), scenario);
      }
      return { g, p, sc, tail: new TopicTail(brokers, p.output), input: new SteadyInput(brokers, p.input, p.name, cfg.broker.series, cfg.broker.rate) };
    }),
  );
  const runs = started.filter((r): r is Running => 'sc' in r);
  const failed = started.filter((r): r is ChaosRow => !('sc' in r));
  say(`${cfg.broker.phaseS} s of steady input`);
  await sleep(cfg.broker.phaseS * 1000);
  const deliveredBefore = await Promise.all(runs.map((r) => r.input.stop()));
  const before = await Promise.all(runs.map((r) => groupOffsets(brokers, r.p.groupId, r.p.input)));

  say('kill -9 of the broker');
  await broker.kill();
  const tKill = performance.now();
  await sleep(outageS * 1000);
  // What the processes look like at the end of the outage.
  const during = await Promise.all(runs.map(async (r) => ({ alive: r.sc.alive(), healthz: await r.sc.http('/healthz'), readyz: await r.sc.http('/readyz') })));
  say('relaunching the broker on the same data');
  broker.relaunch();
  const servingS = await broker.waitServing(runs[0]?.p.input ?? '__consumer_offsets', { partitions: PARTITIONS, timeoutMs: BROKER_BACK_S * 1000 });
  const tBack = performance.now();
  if (servingS === undefined) {
    for (const r of runs) r.tail.stop();
    await Promise.all(runs.map((r) => r.sc.terminate(10)));
    throw new Error(`the relaunched broker did not serve within ${BROKER_BACK_S} s`);
  }
  say(`broker back after ${((tBack - tKill) / 1000).toFixed(1)} s; input again, waiting for recovery (≤ ${cfg.waitS} s)`);
  for (const r of runs) r.input = new SteadyInput(brokers, r.p.input, r.p.name, cfg.broker.series, cfg.broker.rate, r.input.steps);
  const stopInput = sleep(cfg.broker.phaseS * 1000).then(() => Promise.all(runs.map((r) => r.input.stop())));
  const recovered = await Promise.all(runs.map((r, i) => recovery(r, before[i], tBack, cfg.waitS, brokers)));
  const deliveredAfter = await stopInput;
  const stoppedAt = performance.now();
  say('draining, then SIGTERM');
  const drained = await Promise.all(
    runs.map((r, i) => {
      const left = Math.max(2 * QUIET_S, cfg.waitS - (performance.now() - tBack) / 1000);
      return recovered[i]!.caughtUpS === undefined ? Promise.resolve(undefined) : waitUntil(() => settled(brokers, r.p, r.tail, stoppedAt), left, { giveUp: () => !r.sc.alive() });
    }),
  );
  const atEnd = await Promise.all(runs.map(async (r) => ({ alive: r.sc.alive(), exit: r.sc.exit(), healthz: await r.sc.http('/healthz'), readyz: await r.sc.http('/readyz'), offsets: describeOffsets(await groupOffsets(brokers, r.p.groupId, r.p.input)) })));
  const terms = await Promise.all(runs.map((r) => r.sc.terminate(30)));
  for (const r of runs) r.tail.stop();

  say('counting forecasts');
  const rows: ChaosRow[] = [];
  for (const [i, r] of runs.entries()) {
    const c = compare(await expectedFrom(brokers, r.p.input), await tallyOf(brokers, r.p.output, false));
    const rec = recovered[i]!;
    const end = atEnd[i]!;
    const notes = [
      `broker down ${((tBack - tKill) / 1000).toFixed(0)} s (${outageS} s + ${servingS.toFixed(0)} s to serve again)`,
      `at the end of the outage: ${during[i]!.alive ? 'alive' : 'exited'}, /healthz ${code(during[i]!.healthz)}, /readyz ${code(during[i]!.readyz)}`,
      rec.firstForecastS === undefined ? noRecovery(end.exit, tBack, cfg.waitS) : drained[i] === undefined ? `not drained within ${cfg.waitS} s` : 'drained',
      `then ${end.alive ? 'alive' : 'exited'}, /healthz ${code(end.healthz)}, /readyz ${code(end.readyz)}`,
      `SIGTERM: ${exitText(terms[i]!)}`,
      ...(r.sc.errorsLogged() > 0 ? [`${r.sc.errorsLogged()} error logs`] : []),
      ...(c.lost > 0 ? [`committed/end ${end.offsets}`] : []),
      ...(deliveredBefore[i] === false || deliveredAfter[i] === false ? ['input producer reported a failure'] : []),
    ];
    rows.push({
      scenario,
      guarantee: r.g,
      lost: c.lost,
      duplicated: c.duplicated,
      recovery: `first ${secs(rec.firstForecastS)} / caught up ${secs(rec.caughtUpS)}`,
      rssPerSeries: '—',
      notes: notes.join('; '),
      detail: { pipeline: r.p.name, outageS, brokerServingS: servingS, brokerDownS: (tBack - tKill) / 1000, offsetsBefore: describeOffsets(before[i]), during: during[i], recovery: rec, drainedS: drained[i], atEnd: end, sigterm: terms[i], errorsLogged: r.sc.errorsLogged(), tailRestarts: r.tail.restarts, comparison: c, stderrTail: r.sc.stderrTail(3000) },
    });
  }
  return [...rows, ...failed];
}

/**
 * Seconds from the broker's return to the first new forecast visible, and until the group has
 * committed all the input of before the outage; bounded by `waitS`, or by the process exiting.
 */
async function recovery(r: Running, before: GroupOffsets | undefined, tBack: number, waitS: number, brokers: string): Promise<{ firstForecastS: number | undefined; caughtUpS: number | undefined }> {
  const out: { firstForecastS: number | undefined; caughtUpS: number | undefined } = { firstForecastS: undefined, caughtUpS: undefined };
  await waitUntil(
    async () => {
      const first = r.tail.firstAfter(tBack);
      if (first !== undefined) out.firstForecastS ??= (first - tBack) / 1000;
      if (out.caughtUpS === undefined && before !== undefined) {
        const o = await groupOffsets(brokers, r.p.groupId, r.p.input);
        if (o !== undefined && reached(o.committed, before.end)) out.caughtUpS = (performance.now() - tBack) / 1000;
      }
      return out.firstForecastS !== undefined && out.caughtUpS !== undefined;
    },
    waitS,
    { giveUp: () => !r.sc.alive() },
  );
  return out;
}

/** Why no new forecast came: the process exited (when), or it stayed up without progress (hung). */
function noRecovery(e: ReturnType<StreamcastChild['exit']>, tBack: number, waitS: number): string {
  if (e !== undefined && e.at >= tBack) return `no new forecast; exited (${e.code ?? e.signal}) ${((e.at - tBack) / 1000).toFixed(0)} s after the broker's return`;
  if (e !== undefined) return `no new forecast; exited (${e.code ?? e.signal}) during the outage`;
  return `no new forecast within ${waitS} s of the broker's return (hung)`;
}

function code(status: number): string {
  return status === 0 ? 'no answer' : String(status);
}
