import { expect, it } from 'vitest';
import { describeWithKafkaTools, kafkaCase, kcatConsume, offsets, readyz, type RunningCli, startRun, trackedRuns, waitFor, waitForEveryStep } from './harness.js';

interface Letter {
  reason: string;
  message: string;
  source: { topic: string; partition: number; offset: string; key: string | null };
  payload: string;
}

const SERIES = ['pp-a', 'pp-b'];
const STEPS = 40;

/** Polls `probe`, failing at once (with the logs) should the instance exit meanwhile. */
function whileAlive<T>(run: RunningCli, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  return waitFor(
    async () => {
      if (run.child.exitCode !== null) throw new Error(`streamcast run exited with code ${run.child.exitCode} while waiting for ${what}:\n${run.stderr().slice(-4000)}`);
      return probe();
    },
    timeoutMs,
    what,
  );
}

describeWithKafkaTools('streamcast run: a poison-pill record is dead-lettered, never a crash loop (at-least-once)', () => {
  const runs = trackedRuns();

  it('stays up, dead-letters the 5,000-deep record at its exact offset, commits every offset and forecasts the records after it', async () => {
    const { brokers, kafka, t, spec, input, want } = await kafkaCase('poison', { partitions: 1, series: SERIES, steps: STEPS, guarantee: 'at-least-once' });
    // The record that crashed the consumer on every restart: a JSON array holding one element
    // nested 5,000 deep (about 20 KB). Re-serializing it for the dead letter overflowed the stack.
    const pill = `[${'[ '.repeat(5000)}${' ]'.repeat(5000)}]`;
    const half = input.length / 2;
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: t.input, messages: input.slice(0, half).map((p) => ({ key: p.series, value: JSON.stringify(p) })) });
    await producer.send({ topic: t.input, messages: [{ key: 'pp-a', value: pill }] });
    await producer.send({ topic: t.input, messages: input.slice(half).map((p) => ({ key: p.series, value: JSON.stringify(p) })) });
    await producer.disconnect();
    const end = input.length + 1;

    const run = startRun(spec, brokers);
    runs.push(run);
    const port = await run.port();
    await whileAlive(run, async () => (await readyz(port)) === 200, 30_000, '/readyz to turn 200');

    const letters = await whileAlive(
      run,
      () => {
        const recs = kcatConsume(brokers, t.dlq);
        return recs.length > 0 ? recs.map((r) => JSON.parse(r.payload ?? 'null') as Letter) : undefined;
      },
      40_000,
      'the dead letter of the poison pill',
    );
    expect(letters).toHaveLength(1);
    expect(letters[0]!.reason, letters[0]!.message).toBe('too_deep');
    expect(letters[0]!.source).toEqual({ topic: t.input, partition: 0, offset: String(half), key: 'pp-a' });
    expect(letters[0]!.payload).toBe(pill);

    // The valid records behind it are forecast, and every input offset gets committed.
    await waitForEveryStep(brokers, t.output, want, { what: 'a forecast for every (series, step), those after the pill included', logs: () => run.stderr().slice(-3000) });
    await whileAlive(
      run,
      async () => (await offsets(kafka, `streamcast-${t.name}`, t.input)).committed.get(0) === String(end),
      30_000,
      `offset ${end} (the end of the input) to be committed`,
    );
    expect((await offsets(kafka, `streamcast-${t.name}`, t.input)).end.get(0)).toBe(String(end));

    expect(run.child.exitCode).toBeNull();
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr().slice(-3000)).toEqual({ code: 0, signal: null });
  });
});
