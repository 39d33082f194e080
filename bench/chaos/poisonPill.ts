import { setTimeout as sleep } from 'node:timers/promises';
import { chaosPipeline, createTopic, type Guarantee } from './chaosPipeline.js';
import { exitText, failedRow, type ChaosRow } from './chaosTable.js';
import { compare } from './forecastTally.js';
import { describeOffsets, groupOffsets, reached, type GroupOffsets } from './groupOffsets.js';
import { produceLines } from './produceLines.js';
import type { ScenarioContext } from './scenarioContext.js';
import { QUIET_S } from './settled.js';
import { pointLine, STEP_MS, T0 } from './steadyInput.js';
import { StreamcastChild } from './streamcastChild.js';
import { expectedFrom, tallyOf } from './tallyTopics.js';
import { readTopic } from './topicReader.js';
import { waitUntil } from './waitUntil.js';

const PARTITIONS = 2;

/**
 * A JSON array record whose second element is nested `depth` levels deep (its first element a
 * valid point of a series of its own), amid valid records. Both guarantees at once. A process
 * that exits is started again, at most `restarts` times; everything is bounded by the wait.
 */
export async function poisonPillScenario(ctx: ScenarioContext): Promise<ChaosRow[]> {
  return Promise.all((['at-least-once', 'exactly-once'] as const).map((g) => poisonRun(ctx, g)));
}

async function poisonRun(ctx: ScenarioContext, g: Guarantee): Promise<ChaosRow> {
  const { cfg, broker, root, progress } = ctx;
  const { brokers } = broker;
  const { series, steps, depth } = cfg.poison;
  const say = (what: string) => progress.phase(g, what);
  const p = chaosPipeline('poison', g);
  await createTopic(brokers, p.input, PARTITIONS);
  const stepsOf = (from: number, to: number) => {
    let lines = '';
    for (let i = from; i < to; i++) for (let s = 0; s < series; s++) lines += pointLine(p.name, s, i);
    return lines;
  };
  say(`producing ${series * steps} valid points and one array nested ${depth} deep`);
  let delivered = await produceLines(brokers, p.input, [stepsOf(0, steps / 2)]);
  const beforePoison = await groupOffsets(brokers, p.groupId, p.input);
  const arraySeries = `${p.name}-array`;
  const valid = JSON.stringify({ series: arraySeries, ts: T0 + (steps / 2) * STEP_MS + 1000, value: 1 });
  delivered = (await produceLines(brokers, p.input, [`${arraySeries}\t[${valid},${'['.repeat(depth)}1${']'.repeat(depth)}]\n`])) && delivered;
  const afterPoison = await groupOffsets(brokers, p.groupId, p.input);
  delivered = (await produceLines(brokers, p.input, [stepsOf(steps / 2, steps)])) && delivered;
  const poison = poisonPosition(beforePoison, afterPoison);
  if (poison === undefined) return failedRow(g, 'could not locate the poison record in the input (offsets unavailable)', '', 'poison pill');

  const exits: Array<{ code: number | null; signal: string | null; afterS: number }> = [];
  let sc = new StreamcastChild(root, p.specPath, brokers);
  const t0 = performance.now();
  let errors = 0;
  say('streamcast consuming; waiting for every record to be committed');
  const committedS = await waitUntil(async () => {
    if (!sc.alive()) {
      const e = sc.exit()!;
      exits.push({ code: e.code, signal: e.signal, afterS: (e.at - sc.startedAt) / 1000 });
      errors += sc.errorsLogged();
      if (exits.length > cfg.poison.restarts) return false;
      say(`streamcast exited (${e.code ?? e.signal}); restart ${exits.length}/${cfg.poison.restarts}`);
      sc = new StreamcastChild(root, p.specPath, brokers);
      return false;
    }
    const o = await groupOffsets(brokers, p.groupId, p.input);
    return o !== undefined && reached(o.committed, o.end);
  }, cfg.waitS, { everyMs: 500, giveUp: () => exits.length > cfg.poison.restarts });
  // The last steps close by idle close after their input was committed (see settled.ts).
  if (committedS !== undefined) await sleep(QUIET_S * 1000);
  const alive = sc.alive();
  const healthz = await sc.http('/healthz');
  const offsets = await groupOffsets(brokers, p.groupId, p.input);
  const term = await sc.terminate(30);
  errors += sc.errorsLogged();

  say('reading the dead letters and counting forecasts');
  const letters: Array<{ reason?: string; source?: { partition?: number; offset?: string } }> = [];
  const dlqReadable = await readTopic(brokers, p.dlq, { readCommitted: true, timeoutS: 60 }, (l) => {
    try {
      letters.push(JSON.parse(l) as (typeof letters)[number]);
    } catch (err) {
      void err; // not a dead letter: ignored
    }
  });
  const letter = letters.find((l) => l.source?.partition === poison.partition && l.source.offset === String(poison.offset));
  const c = compare(await expectedFrom(brokers, p.input), await tallyOf(brokers, p.output, false));
  const reasons = new Map<string, number>();
  for (const l of letters) if (l !== letter) reasons.set(l.reason ?? '?', (reasons.get(l.reason ?? '?') ?? 0) + 1);
  const notes = [
    survival(alive, healthz, exits.length, cfg.poison.restarts),
    letter !== undefined ? `dead-lettered (${letter.reason ?? '?'})` : `not dead-lettered${dlqReadable ? '' : ' (no dead-letter topic)'}`,
    ...(reasons.size > 0 ? [`other dead letters: ${[...reasons].map(([r, n]) => `${n} ${r}`).join(', ')}`] : []),
    committedS !== undefined ? 'all committed' : `committed/end ${describeOffsets(offsets)} after ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    `SIGTERM: ${exitText(term)}`,
    ...(errors > 0 ? [`${errors} error logs`] : []),
    ...(!delivered ? ['input producer reported a failure'] : []),
  ];
  return {
    scenario: `poison pill (depth ${depth})`,
    guarantee: g,
    lost: c.lost,
    duplicated: c.duplicated,
    recovery: '—',
    rssPerSeries: '—',
    notes: notes.join('; '),
    detail: { pipeline: p.name, poison, exits, committedS, offsetsAtEnd: describeOffsets(offsets), alive, healthz, deadLetter: letter, deadLetters: letters.length, otherDeadLetters: Object.fromEntries(reasons), sigterm: term, errorsLogged: errors, comparison: c, stderrTail: sc.stderrTail(3000) },
  };
}

/** Whether the process lived through it, in words: a process that stays up without answering /healthz is stuck, not surviving. */
function survival(alive: boolean, healthz: number, exits: number, restarts: number): string {
  if (exits > 0) return `process exited ${exits}× (restarted ≤ ${restarts})${alive ? '' : ', dead at the end'}`;
  if (healthz !== 200) return `process did not exit but /healthz does not answer (stuck)`;
  return 'process survived';
}

/** The partition whose end moved by one between the two reads, and the poison's offset there. */
function poisonPosition(before: GroupOffsets | undefined, after: GroupOffsets | undefined): { partition: number; offset: bigint } | undefined {
  if (before === undefined || after === undefined) return undefined;
  for (const [p, end] of after.end) {
    const was = before.end.get(p) ?? 0n;
    if (end === was + 1n) return { partition: p, offset: was };
  }
  return undefined;
}
