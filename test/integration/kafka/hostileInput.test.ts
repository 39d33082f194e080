import { afterAll, expect, it } from 'vitest';
import { requireKafkaBrokers } from '../../helpers/services.js';
import { createTopic, describeWithKafkaTools, kcatConsume, points, readyz, type RunningCli, specTopics, startRun, STEP, stepKeys, T0, testKafka, waitFor, waitForEveryStep, writeSpec } from './harness.js';

interface Letter {
  reason: string;
  message: string;
  source: { topic: string; partition: number; offset: string; key: string | null };
  payload: string;
  encoding?: string;
}

describeWithKafkaTools('streamcast run: malformed and hostile records go to the dead-letter topic, good ones are forecast', () => {
  let run: RunningCli | undefined;
  afterAll(() => {
    run?.child.kill('SIGKILL');
  });

  it('routes every bad record with a reason and keeps forecasting', async () => {
    const brokers = requireKafkaBrokers();
    const kafka = testKafka(brokers);
    const t = specTopics('hostile');
    // The broker refuses records above max.message.bytes (1 MiB by default) before we ever see
    // them; raise it on the input topic so that a 1 MB+ value reaches the decoder.
    await createTopic(kafka, t.input, 1, { 'max.message.bytes': String(4 * 1024 * 1024) });
    const producer = kafka.producer();
    await producer.connect();
    const good = points(['good-a', 'good-b'], 0, 30);
    const ts = T0 + 5 * STEP;
    const bad: Array<{ key: Buffer | string | null; value: Buffer | string; reason: string }> = [
      { key: 'x', value: '{"series":"x","ts":', reason: 'invalid_json' },
      { key: 'x', value: `{"series":"x","ts":${ts},"value":NaN}`, reason: 'invalid_json' },
      { key: 'x', value: `{"series":"x","ts":${ts},"value":"NaN"}`, reason: 'invalid_value' },
      { key: 'x', value: `{"series":"x","ts":${ts},"value":"0.5"}`, reason: 'invalid_value' },
      { key: 'x', value: `{"series":42,"ts":${ts},"value":1}`, reason: 'invalid_series' },
      { key: 'x', value: `{"series":"x","ts":"yesterday","value":1}`, reason: 'invalid_ts' },
      { key: 'x', value: `{"series":"x","ts":-5,"value":1}`, reason: 'invalid_ts' },
      { key: 'x', value: `{"series":"x","ts":9e20,"value":1}`, reason: 'invalid_ts' },
      { key: 'x', value: '"just a string"', reason: 'not_an_object' },
      { key: null, value: `{"ts":${ts},"value":1}`, reason: 'missing_series' },
      { key: Buffer.from([0xff, 0xfe, 0x00, 0x01]), value: `{"ts":${ts},"value":1}`, reason: 'invalid_series' },
      { key: Buffer.from([0xc3, 0x28]), value: Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), reason: 'invalid_json' },
      { key: 'big', value: `{"series":"big","ts":${ts},"value":1,"pad":"${'x'.repeat(1024 * 1024 + 10)}"}`, reason: 'too_large' },
    ];
    // Half the good points, then the bad records, then a far-future point inside a good series
    // (year 2200: a valid timestamp, but a jump the next point does not confirm), then the rest.
    await producer.send({ topic: t.input, messages: good.slice(0, 30).map((p) => ({ key: p.series, value: JSON.stringify(p) })) });
    await producer.send({ topic: t.input, messages: bad.map((b) => ({ key: b.key, value: b.value })) });
    const future = { series: 'good-a', ts: Date.UTC(2200, 0, 1), value: 1 };
    await producer.send({ topic: t.input, messages: [{ key: future.series, value: JSON.stringify(future) }] });
    await producer.send({ topic: t.input, messages: good.slice(30).map((p) => ({ key: p.series, value: JSON.stringify(p) })) });
    await producer.disconnect();

    run = startRun(writeSpec(t), brokers.join(','));
    const port = await run.port();
    // Ready implies the output and dead-letter topics exist.
    await waitFor(async () => (await readyz(port)) === 200, 30_000, '/readyz to turn 200');
    const want = bad.length + 1;
    const letters = await waitFor(
      () => {
        const recs = kcatConsume(brokers.join(','), t.dlq);
        return recs.length >= want ? recs.map((r) => JSON.parse(r.payload ?? 'null') as Letter) : undefined;
      },
      40_000,
      `${want} dead letters`,
    );
    expect(letters).toHaveLength(want);
    const byOffset = new Map(letters.map((l) => [l.source.offset, l]));
    bad.forEach((b, i) => {
      const l = byOffset.get(String(30 + i));
      expect(l, `dead letter for bad record ${i}`).toBeDefined();
      expect(l!.reason, `record ${i}: ${l!.message}`).toBe(b.reason);
      expect(l!.source.topic).toBe(t.input);
      expect(l!.message.length).toBeGreaterThan(0);
    });
    // Non-UTF-8 payloads are kept as base64; the oversized one is truncated to fit the DLQ topic.
    expect(byOffset.get(String(30 + 11))!.encoding).toBe('base64');
    expect(byOffset.get(String(30 + 10))!.source.key).toMatch(/^base64:/);
    expect(byOffset.get(String(30 + 12))!.payload.length).toBeLessThan(100 * 1024);
    expect(letters.find((l) => l.reason === 'future_timestamp')?.payload).toContain('"good-a"');

    // The good records were all forecast, and the process is still running.
    await waitForEveryStep(brokers.join(','), t.output, stepKeys(good), { what: 'forecasts for every good (series, step)', timeoutMs: 30_000 });
    expect(run.child.exitCode).toBeNull();
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr()).toEqual({ code: 0, signal: null });
  });
});
