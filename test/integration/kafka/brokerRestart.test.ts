import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, expect, it } from 'vitest';
import { describeWhen } from '../../helpers/describeWhen.js';
import { OwnBroker, ownBrokerProblem } from '../../helpers/ownBroker.js';
import { commandProblem } from '../../helpers/tools.js';
import { createTopic, forecastsByStep, kcatConsume, kcatProduce, points, readyz, specTopics, startRun, stepKeys, testKafka, trackedRuns, waitFor, waitForEveryStep, writeSpec } from './harness.js';

/**
 * A broker of its own (OwnBroker), restarted mid-stream: a clean stop (SIGTERM), then its JVM's
 * own command line again on the same data.
 */
const SERIES = ['br-a', 'br-b', 'br-c', 'br-d'];
const STEPS = 80;

// Needs java, the jars the global setup fetched and kcat; on CI their absence fails.
describeWhen('streamcast run, exactly-once: the broker restarts mid-stream', [ownBrokerProblem(), commandProblem('kcat')], () => {
  let broker: OwnBroker | undefined;
  const runs = trackedRuns();
  afterAll(() => broker?.stop());

  it('processing resumes after the restart and nothing is lost or duplicated', { timeout: 180_000 }, async () => {
    broker = await OwnBroker.start({ timeoutMs: 120_000 });
    const b = broker.brokers;
    const kafka = testKafka([b]);

    const t = specTopics('brestart');
    await createTopic(kafka, t.input, 2);
    await createTopic(kafka, t.output, 2);
    const spec = writeSpec(t, { guarantee: 'exactly-once' });
    const input = points(SERIES, 0, STEPS);
    const half = input.length / 2;
    kcatProduce(b, t.input, input.slice(0, half).map((p) => ({ key: p.series, value: JSON.stringify(p) })));

    const run = startRun(spec, b);
    runs.push(run);
    const port = await run.port();
    await waitFor(() => kcatConsume(b, t.output, { readCommitted: true }).length > 0 || undefined, 30_000, 'the first committed forecasts');

    // Restart the broker: TERM its JVM, then start the same command line on the same data.
    await broker.kill('SIGTERM', 60_000);
    await waitFor(async () => (await readyz(port)) !== 200 || undefined, 30_000, '/readyz to report the outage').catch(() => undefined);
    await sleep(1000);
    broker.relaunch();
    if ((await broker.waitServing(t.input, { partitions: 2, timeoutMs: 60_000 })) === undefined) throw new Error(`the restarted broker did not serve ${t.input} within 60 s`);

    kcatProduce(b, t.input, input.slice(half).map((p) => ({ key: p.series, value: JSON.stringify(p) })));
    const want = stepKeys(input);
    await waitForEveryStep(b, t.output, want, { what: 'a committed forecast for every (series, step) after the broker restart', readCommitted: true, logs: () => run.stderr().slice(-4000) });
    await waitFor(async () => (await readyz(port)) === 200, 30_000, '/readyz back to 200');
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr()).toEqual({ code: 0, signal: null });
    const got = forecastsByStep(kcatConsume(b, t.output, { readCommitted: true }), 3);
    expect([...got].filter(([, l]) => l.length !== 1).map(([k, l]) => `${k}×${l.length}`)).toEqual([]);
    expect(new Set(got.keys())).toEqual(want);
  });
});
