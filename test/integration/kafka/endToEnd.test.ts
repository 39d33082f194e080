import { afterAll, expect, it } from 'vitest';
import { describeWithKafkaTools, kafkaCase, kcatConsume, kcatProduce, offsets, readyz, type RunningCli, startRun, T0, waitFor, waitForEveryStep } from './harness.js';

const SERIES = ['host-1.cpu', 'host-2.cpu', 'host-3.cpu', 'db.load'];
const STEPS = 40;

describeWithKafkaTools('streamcast run on a real broker: kcat in, forecasts out (at-least-once)', () => {
  let run: RunningCli | undefined;
  afterAll(() => {
    run?.child.kill('SIGKILL');
  });

  it('forecasts every (series, step) with the DESIGN.md shape, and SIGTERM exits 0 with offsets committed to the end', async () => {
    const { brokers: b, kafka, t, spec, input, want } = await kafkaCase('e2e', { partitions: 3, series: SERIES, steps: STEPS });
    kcatProduce(b, t.input, input.map((p) => ({ key: p.series, value: JSON.stringify(p) })));

    run = startRun(spec, b);
    const port = await run.port();
    await waitFor(async () => (await readyz(port)) === 200, 30_000, '/readyz to turn 200 (group joined, partitions assigned)');

    // Every step of every series, the last ones closed by idle close (2 s of wall time).
    const byStep = await waitForEveryStep(b, t.output, want, { what: 'a forecast for every (series, step)', timeoutMs: 45_000 });
    const parsed = [...byStep.values()].flat();
    expect(new Set(parsed.map((f) => f.series))).toEqual(new Set(SERIES));
    expect(Math.min(...parsed.map((f) => f.ts))).toBe(T0);
    // Per series, forecasts come in step order (keyed by series: one partition, in order).
    for (const s of SERIES) {
      const ts = parsed.filter((f) => f.series === s).map((f) => f.ts);
      expect(ts).toEqual([...ts].sort((a, b) => a - b));
    }
    expect(kcatConsume(b, t.dlq)).toEqual([]);

    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`streamcast_forecasts_out_total\\{pipeline="${t.name}"\\} ${parsed.length}`));
    expect(metrics).toMatch(/streamcast_consumer_lag\{[^}]*partition="\d"[^}]*\} 0/);

    run.child.kill('SIGTERM');
    const exit = await run.exited;
    expect(exit, run.stderr()).toEqual({ code: 0, signal: null });
    const { committed, end } = await offsets(kafka, `streamcast-${t.name}`, t.input);
    // An empty partition has nothing to commit (-1): its end offset is 0.
    const norm = new Map([...committed].map(([p, o]) => [p, o === '-1' ? '0' : o]));
    expect(norm).toEqual(end);
    expect([...end.values()].reduce((a, o) => a + Number(o), 0)).toBe(input.length);
  });
});
