import { expect, it } from 'vitest';
import { createTopic, describeWithKafkaTools, forecastsByStep, kafkaCase, kcatConsume, offsets, readyz, specTopics, startProduce, startRun, trackedRuns, waitFor, waitForEveryStep, writePoints, writeSpec } from './harness.js';

const SERIES = ['eo-a', 'eo-b', 'eo-c', 'eo-d', 'eo-e', 'eo-f'];
const STEPS = 100;

describeWithKafkaTools('streamcast run, exactly-once: kill -9 mid-stream and restart', () => {
  const runs = trackedRuns();

  it('the committed forecast topic holds exactly one forecast per (series, step), equal to an uninterrupted run', async () => {
    const { brokers: b, kafka, t, spec, input, want } = await kafkaCase('eocrash', { partitions: 2, series: SERIES, steps: STEPS, guarantee: 'exactly-once' });
    const file = writePoints(input);

    const first = startRun(spec, b);
    runs.push(first);
    await waitFor(async () => (await readyz(await first.port())) === 200, 30_000, 'the first instance to be ready');
    const produced = startProduce(b, t.input, file, 200);

    const before = await waitFor(() => {
      const n = kcatConsume(b, t.output, { readCommitted: true }).length;
      return n >= 60 ? n : undefined;
    }, 30_000, 'the first committed forecasts');
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    expect(before).toBeLessThan(want.size); // it died mid-stream

    const second = startRun(spec, b);
    runs.push(second);
    const p = await produced;
    expect(p.code, p.stderr).toBe(0);

    await waitForEveryStep(b, t.output, want, { what: 'a committed forecast for every (series, step) after the restart', readCommitted: true, logs: () => second.stderr().slice(-4000) });
    second.child.kill('SIGTERM');
    expect(await second.exited, second.stderr()).toEqual({ code: 0, signal: null });
    expect(second.stderr()).toMatch(/restored partition \d: [1-9]\d* series/);

    const crashed = forecastsByStep(kcatConsume(b, t.output, { readCommitted: true }), 3);
    const dup = [...crashed].filter(([, l]) => l.length !== 1).map(([k, l]) => `${k}×${l.length}`);
    expect(dup).toEqual([]);
    expect(new Set(crashed.keys())).toEqual(want);
    const { committed, end } = await offsets(kafka, `streamcast-${t.name}`, t.input);
    // An empty partition has nothing to commit (-1): its end offset is 0.
    expect(new Map([...committed].map(([q, o]) => [q, o === '-1' ? '0' : o]))).toEqual(end);

    // The same input, uninterrupted, under another group into another topic: restored state must
    // have produced exactly the forecasts the uninterrupted state did.
    const u = { ...specTopics('eoref'), input: t.input };
    await createTopic(kafka, u.output, 1);
    const ref = startRun(writeSpec(u, { guarantee: 'exactly-once' }), b);
    runs.push(ref);
    const reference = await waitForEveryStep(b, u.output, want, { what: 'the uninterrupted run', readCommitted: true });
    ref.child.kill('SIGTERM');
    await ref.exited;
    const differ: string[] = [];
    for (const k of want) {
      const a = crashed.get(k)![0]!;
      const r = reference.get(k)![0]!;
      if (JSON.stringify([a.forecast, a.imputed]) !== JSON.stringify([r.forecast, r.imputed])) differ.push(k);
    }
    expect(differ).toEqual([]);
  });
});
