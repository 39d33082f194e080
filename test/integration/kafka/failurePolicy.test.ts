import { expect, it } from 'vitest';
import { describeWithKafka } from '../../helpers/services.js';
import { createTopic, kafkaCase, kcatProduce, startRun, trackedRuns } from './harness.js';

/**
 * Fail fast or recover, never hang (DESIGN.md, "As built", failure policy): a fatal error ends the
 * process with 1 and a log line that names the real cause (broker outages, the retriable case,
 * are brokerOutage.test.ts).
 */
const SERIES = ['fp-a', 'fp-b'];

describeWithKafka('streamcast run: failure policy', () => {
  const runs = trackedRuns();

  it('a fatal error (the broker refuses the forecasts: MESSAGE_TOO_LARGE) exits 1, naming the cause', async () => {
    const { brokers: b, kafka, t, spec, input } = await kafkaCase('fatal', { partitions: 1, series: SERIES, steps: 20 });
    // Every forecast is larger than this: the broker refuses them (not retriable).
    await createTopic(kafka, t.output, 1, { 'max.message.bytes': '64' });
    kcatProduce(b, t.input, input.map((p) => ({ key: p.series, value: JSON.stringify(p) })));
    const run = startRun(spec, b);
    runs.push(run);
    const exited = await Promise.race([run.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 45_000))]);
    expect(exited, run.stderr()).toEqual({ code: 1, signal: null });
    const err = run.stderr();
    expect(err).toContain(`pipeline ${t.name} failed: `);
    expect(err).toContain('MESSAGE_TOO_LARGE');
    expect(err).not.toContain('unexpected failure');
    expect(err).not.toMatch(/ACLs/);
  });
});
