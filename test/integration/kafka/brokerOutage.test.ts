import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { afterAll, expect, it } from 'vitest';
import { describeWhen } from '../../helpers/describeWhen.js';
import { OwnBroker, ownBrokerProblem } from '../../helpers/ownBroker.js';
import { commandProblem } from '../../helpers/tools.js';
import {
  createTopic,
  forecastsByStep,
  kcatConsume,
  kcatProduce,
  offsets,
  points,
  specTopics,
  startRun,
  STEP,
  stepKeys,
  T0,
  testKafka,
  trackedRuns,
  waitFor,
  waitForEveryStep,
  writeSpec,
  type RunningCli,
} from './harness.js';

/**
 * The broker dies (kill -9) under two running instances, one per guarantee (own topics and
 * groups, side by side to halve the test's time), and comes back on the same data after 15 s, and
 * in a second case after 60 s. Each instance must ride it out: still running, /healthz 200, every
 * input offset committed and a forecast for every (series, step) — exactly one under exactly-once.
 * The input's middle part is read just before the kill, so both instances have work in flight
 * (forecasts, idle closes, checkpoints) while the broker is away.
 */
const SERIES = ['ob-a', 'ob-b', 'ob-c', 'ob-d'];
const STEPS = 60;
const GUARANTEES = ['at-least-once', 'exactly-once'] as const;

async function healthz(port: number): Promise<{ status: number; body: string }> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5000) });
    return { status: r.status, body: await r.text() };
  } catch (err) {
    return { status: 0, body: String(err) };
  }
}

/**
 * A broker just started on a busy machine may answer the leader wait of a new topic with a
 * retriable UNKNOWN_TOPIC_OR_PARTITION; creating again is a no-op once the topic exists.
 */
async function createTopicPatiently(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await createTopic(kafka, topic, partitions);
    } catch (err) {
      if (attempt >= 5 || (err as { retriable?: unknown }).retriable !== true) throw err;
      await sleep(1000);
    }
  }
}

describeWhen('streamcast run rides out a broker outage (kill -9, restart on the same data)', [ownBrokerProblem(), commandProblem('kcat')], () => {
  let broker: OwnBroker | undefined;
  const runs = trackedRuns();
  afterAll(() => broker?.stop());

  /** The suite's broker: started once; relaunched if an earlier test failed while it was down. */
  const serving = async (): Promise<OwnBroker> => {
    broker ??= await OwnBroker.start({ timeoutMs: 120_000 });
    if (!broker.running) {
      broker.relaunch();
      if ((await broker.waitServing(undefined, { timeoutMs: 90_000 })) === undefined) throw new Error('the relaunched broker did not serve within 90 s');
    }
    return broker;
  };

  const outage = async (seconds: number): Promise<void> => {
    const own = await serving();
    const b = own.brokers;
    const kafka = testKafka([b]);
    const input = points(SERIES, 0, STEPS);
    const [a, c] = [Math.floor(input.length * 0.4), Math.floor(input.length * 0.6)];
    const cases = await Promise.all(
      GUARANTEES.map(async (guarantee) => {
        const t = specTopics(guarantee === 'exactly-once' ? 'oeo' : 'oalo');
        await createTopicPatiently(kafka, t.input, 2);
        await createTopicPatiently(kafka, t.output, 2);
        return { guarantee, t, spec: writeSpec(t, { guarantee }), readCommitted: guarantee === 'exactly-once' };
      }),
    );
    const produce = (from: number, to: number) => {
      for (const k of cases) kcatProduce(b, k.t.input, input.slice(from, to).map((p) => ({ key: p.series, value: JSON.stringify(p) })));
    };
    produce(0, a);
    const started: Array<{ run: RunningCli; port: number }> = [];
    for (const k of cases) {
      const run = startRun(k.spec, b);
      runs.push(run);
      started.push({ run, port: await run.port() });
    }
    const logs = () => started.map((s, i) => `--- ${cases[i]!.guarantee}\n${s.run.stderr().slice(-4000)}`).join('\n');
    for (const k of cases) {
      await waitFor(() => kcatConsume(b, k.t.output, { readCommitted: k.readCommitted }).length > 0 || undefined, 60_000, `the first ${k.guarantee} forecasts`);
    }

    // The middle part, then the kill as soon as both instances have made forecasts from it.
    produce(a, c);
    const middle = T0 + Math.floor(a / SERIES.length) * STEP;
    for (const k of cases) {
      await waitFor(
        () => kcatConsume(b, k.t.output, { readCommitted: k.readCommitted }).some((r) => (JSON.parse(r.payload ?? '{}') as { ts?: number }).ts! >= middle) || undefined,
        30_000,
        `${k.guarantee} forecasts from the middle part`,
      );
    }
    await own.kill('SIGKILL', 30_000);
    await sleep(seconds * 1000);
    for (const [i, s] of started.entries()) expect(s.run.child.exitCode, `${cases[i]!.guarantee} exited during the outage\n${logs()}`).toBeNull();
    own.relaunch();
    if ((await own.waitServing(cases[0]!.t.input, { timeoutMs: 90_000 })) === undefined) throw new Error(`the relaunched broker did not serve within 90 s\n${logs()}`);
    produce(c, input.length);

    const want = stepKeys(input);
    for (const k of cases) {
      const got = await waitForEveryStep(b, k.t.output, want, { what: `${k.guarantee}: a forecast for every (series, step) after a ${seconds} s outage`, readCommitted: k.readCommitted, timeoutMs: 90_000, logs });
      if (k.readCommitted) expect([...got].filter(([, l]) => l.length !== 1).map(([key, l]) => `${key}×${l.length}`)).toEqual([]);
    }
    for (const k of cases) {
      await waitFor(
        async () => {
          const { committed, end } = await offsets(kafka, `streamcast-${k.t.name}`, k.t.input);
          return [...end].every(([p, o]) => committed.get(p) === o) || undefined;
        },
        30_000,
        `${k.guarantee}: every input offset committed`,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${logs()}`);
      });
    }
    for (const [i, s] of started.entries()) {
      expect(s.run.child.exitCode, `${cases[i]!.guarantee} exited\n${logs()}`).toBeNull();
      const h = await healthz(s.port);
      expect(h.status, `${cases[i]!.guarantee} /healthz: ${h.body}\n${logs()}`).toBe(200);
    }
    for (const s of started) s.run.child.kill('SIGTERM');
    for (const [i, s] of started.entries()) expect(await s.run.exited, `${cases[i]!.guarantee}\n${logs()}`).toEqual({ code: 0, signal: null });
    const total = forecastsByStep(kcatConsume(b, cases[0]!.t.output), 3).size;
    expect(total).toBe(want.size);
  };

  it('a 15 s outage', { timeout: 180_000 }, () => outage(15));
  it('a 60 s outage', { timeout: 240_000 }, () => outage(60));
});
