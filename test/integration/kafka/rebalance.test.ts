import { expect, it } from 'vitest';
import { createTopic, describeWithKafkaTools, forecastsByStep, kafkaCase, kcatConsume, readyz, specTopics, startProduce, startRun, trackedRuns, waitFor, waitForEveryStep, writePoints, writeSpec } from './harness.js';

const SERIES = Array.from({ length: 8 }, (_, i) => `rb-${i}`);
const STEPS = 100;

describeWithKafkaTools('streamcast run, exactly-once: rebalances move state with the partitions', () => {
  const runs = trackedRuns();

  it('one of two instances killed, a third joining: still exactly one forecast per (series, step), as uninterrupted', async () => {
    const { brokers: b, kafka, t, spec, input, want } = await kafkaCase('rebal', { partitions: 4, series: SERIES, steps: STEPS, guarantee: 'exactly-once' });
    const committedForecasts = () => kcatConsume(b, t.output, { readCommitted: true });

    const a = startRun(spec, b);
    const bInst = startRun(spec, b);
    runs.push(a, bInst);
    await waitFor(async () => (await readyz(await a.port())) === 200 && (await readyz(await bInst.port())) === 200, 30_000, 'both instances ready');
    // Both own partitions before the input starts (each logs its assignment).
    await waitFor(() => /assigned partitions \[\d/.test(a.stderr()) && /assigned partitions \[\d/.test(bInst.stderr()), 20_000, 'a partition for each instance');
    const produced = startProduce(b, t.input, writePoints(input), 160);

    await waitFor(() => committedForecasts().length >= 80 || undefined, 30_000, 'the first committed forecasts');
    a.child.kill('SIGKILL');
    await a.exited;
    // B takes A's partitions once A's session (6 s) expires, restoring their state first.
    await waitFor(() => /restored partition \d: [1-9]\d* series/.test(bInst.stderr()), 30_000, 'B to restore the partitions of the killed A');

    const c = startRun(spec, b);
    runs.push(c);
    await waitFor(() => /restored partition \d/.test(c.stderr()), 30_000, 'C to join and restore the partitions it was given');
    const p = await produced;
    expect(p.code, p.stderr).toBe(0);

    await waitForEveryStep(b, t.output, want, {
      what: 'a committed forecast for every (series, step)',
      readCommitted: true,
      logs: () => `B: ${bInst.stderr().slice(-3000)}\nC: ${c.stderr().slice(-3000)}`,
    });
    bInst.child.kill('SIGTERM');
    c.child.kill('SIGTERM');
    expect(await bInst.exited, bInst.stderr()).toEqual({ code: 0, signal: null });
    expect(await c.exited, c.stderr()).toEqual({ code: 0, signal: null });

    const got = forecastsByStep(committedForecasts(), 3);
    expect([...got].filter(([, l]) => l.length !== 1).map(([k, l]) => `${k}×${l.length}`)).toEqual([]);
    expect(new Set(got.keys())).toEqual(want);

    // Uninterrupted reference over the same input: moved state gave the same forecasts.
    const u = { ...specTopics('rbref'), input: t.input };
    await createTopic(kafka, u.output, 1);
    const ref = startRun(writeSpec(u, { guarantee: 'exactly-once' }), b);
    runs.push(ref);
    const reference = await waitForEveryStep(b, u.output, want, { what: 'the uninterrupted run', readCommitted: true });
    ref.child.kill('SIGTERM');
    await ref.exited;
    const differ = [...want].filter((k) => JSON.stringify(got.get(k)![0]!.forecast) !== JSON.stringify(reference.get(k)![0]!.forecast));
    expect(differ).toEqual([]);
  }, 120_000); // three instances, a kill -9 and two rebalances: ~40 s alone, near 60 s on a loaded 2-core machine
});
