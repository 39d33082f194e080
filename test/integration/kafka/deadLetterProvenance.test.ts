import { expect, it } from 'vitest';
import { describeWithKafka, requireKafkaBrokers } from '../../helpers/services.js';
import { createTopic, kcatConsume, kcatProduce, points, readyz, requireKcat, specTopics, startRun, STEP, stepKeys, T0, testKafka, trackedRuns, waitFor, waitForEveryStep, writeSpec } from './harness.js';

interface Letter {
  reason: string;
  message: string;
  source: { topic: string; partition: number; offset: string; key: string | null };
  payload: string;
}

const line = (key: string | null, value: unknown) => ({ key, value: typeof value === 'string' ? value : JSON.stringify(value) });

describeWithKafka('streamcast run: every dead letter names the input record that carried the bad point', () => {
  // SIGKILLed after the suite whatever happened.
  const runs = trackedRuns();

  it('a series that skewed points moved a year ahead is re-based onto its genuine points and forecast again', async () => {
    requireKcat();
    const brokers = requireKafkaBrokers();
    const b = brokers.join(',');
    const t = specTopics('skew');
    const kafka = testKafka(brokers);
    // All three up front: the test reads the output and dead-letter topics before streamcast may have created them.
    for (const topic of [t.input, t.output, t.dlq]) await createTopic(kafka, topic, 1);
    const YEAR = 365 * 24 * 60 * STEP;
    const genuine = (from: number, to: number) => points(['c'], from, to);
    const skewed = [0, 1, 2].map((k) => ({ series: 'c', ts: T0 + YEAR + (10 + k) * STEP, value: 1 }));
    const after = genuine(10, 70);
    kcatProduce(b, t.input, [...genuine(0, 10), ...skewed, ...after].map((p) => line('c', p)));

    const run = startRun(writeSpec(t), b);
    runs.push(run);
    const port = await run.port();
    // Every genuine step after the skew is forecast (the 2 s idle close closes the last ones).
    await waitForEveryStep(b, t.output, stepKeys(after), { what: 'forecasts of every genuine step after the skew', timeoutMs: 40_000, logs: run.stderr });
    expect(kcatConsume(b, t.dlq)).toEqual([]);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/streamcast_series_rebased_total\{pipeline="[^"]+"\} 1\b/);
    expect(run.stderr()).toMatch(/series \\?"c\\?" re-based from/);
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr()).toEqual({ code: 0, signal: null });
  });

  it('late, future-stamped and malformed records: the topic, partition, offset and key (null when absent) of the record itself', async () => {
    requireKcat();
    const brokers = requireKafkaBrokers();
    const b = brokers.join(',');
    const kafka = testKafka(brokers);
    const t = specTopics('dlsource');
    // Two partitions, every record on partition 1: a letter defaulting to partition 0 shows.
    await createTopic(kafka, t.input, 2);
    const future = Date.UTC(2200, 0, 1);
    // Series `a` comes keyed, series `b` without a key (its id is only in the payload).
    const history = points(['a', 'b'], 0, 20).map((p) => line(p.series === 'a' ? 'a' : null, p));
    const bad: Array<{ key: string | null; value: unknown; reason: string }> = [
      // Both series are at step 19 now; lateness is 2 steps, so step 2 and 3 are long closed.
      { key: 'a', value: { series: 'a', ts: T0 + 2 * STEP + 5, value: 1 }, reason: 'late' },
      { key: null, value: { series: 'b', ts: T0 + 3 * STEP + 5, value: 1 }, reason: 'late' },
      // Far-future points, each refuted by the ordinary record of its series that follows it.
      { key: null, value: { series: 'b', ts: future, value: 2 }, reason: 'future_timestamp' },
      { key: 'a', value: { series: 'a', ts: future + STEP, value: 2 }, reason: 'future_timestamp' },
      { key: 'x', value: '{"series":"x","ts":', reason: 'invalid_json' },
      { key: null, value: '{"series":"x","ts":', reason: 'invalid_json' },
      { key: null, value: { ts: T0, value: 1 }, reason: 'missing_series' },
    ];
    const rest = points(['a', 'b'], 20, 30).map((p) => line(p.series === 'a' ? 'a' : null, p));
    kcatProduce(b, t.input, [...history, ...bad.map((x) => line(x.key, x.value)), ...rest], { partition: 1 });

    const run = startRun(writeSpec(t), b);
    runs.push(run);
    const port = await run.port();
    await waitFor(async () => (await readyz(port)) === 200, 30_000, '/readyz to turn 200');
    const letters = await waitFor(
      () => {
        const recs = kcatConsume(b, t.dlq);
        return recs.length >= bad.length ? recs.map((r) => JSON.parse(r.payload ?? 'null') as Letter) : undefined;
      },
      40_000,
      `${bad.length} dead letters`,
    );
    expect(letters).toHaveLength(bad.length);

    // The input as a second client reads it: each letter must point at the record it came from.
    const input = kcatConsume(b, t.input);
    const at = new Map(input.map((r) => [`${r.partition}@${r.offset}`, r]));
    const firstBad = history.length;
    for (const l of letters) {
      const rec = at.get(`${l.source.partition}@${l.source.offset}`);
      expect(rec, `${l.reason} letter points at ${l.source.partition}@${l.source.offset}, which is no input record`).toBeDefined();
      const i = Number(rec!.offset) - firstBad;
      expect(i >= 0 && i < bad.length, `${l.reason} letter points at offset ${rec!.offset}: ${rec!.payload ?? ''}`).toBe(true);
      expect(l.reason, `letter for ${rec!.payload ?? ''}`).toBe(bad[i]!.reason);
      expect(l.source.topic).toBe(t.input);
      if (l.reason === 'late' || l.reason === 'future_timestamp') {
        // The letter's payload is the rejected point; the record it names carried that point.
        const point = JSON.parse(l.payload) as { series: string; ts: number };
        const carried = JSON.parse(rec!.payload ?? 'null') as { series: string; ts: number };
        expect({ series: point.series, ts: point.ts }, `${l.reason} letter names offset ${l.source.offset}`).toEqual({ series: carried.series, ts: carried.ts });
      }
      expect(l.source.key, `key of the letter for ${rec!.payload ?? ''}`).toBe(rec!.key);
    }
    expect(new Set(letters.map((l) => l.source.offset)).size).toBe(bad.length);

    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr()).toEqual({ code: 0, signal: null });
  });
});
