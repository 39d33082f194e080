import { appendFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { describeWithKafka } from '../../helpers/services.js';
import { kafkaCase, kcatConsume, kcatProduce, readyz, requireKcat, startRun, trackedRuns, waitFor } from './harness.js';

const SERIES = ['ttl-a', 'ttl-b'];

describeWithKafka('state.ttl on Kafka: an expired series is tombstoned in the changelog and not restored', () => {
  const runs = trackedRuns();

  it('writes a null value for the expired series key, and a restart restores none of it', async () => {
    requireKcat();
    const { brokers: b, t, spec, input } = await kafkaCase('ttl', { partitions: 2, series: SERIES, steps: 5 });
    // idleClose is 2 s (harness): the series' last steps close and are forecast, then, with no
    // point for 3 s, it expires at the next checkpoint.
    appendFileSync(spec, 'state: { ttl: 3s }\n');
    kcatProduce(b, t.input, input.map((p) => ({ key: p.series, value: JSON.stringify(p) })));
    const changelog = `${t.name}.state`;

    const first = startRun(spec, b);
    runs.push(first);
    const last = await waitFor(
      () => {
        let records;
        try {
          records = kcatConsume(b, changelog);
        } catch (err) {
          void err; // the changelog topic does not exist until the pipeline has started
          return undefined;
        }
        const newest = new Map<string, string | null>();
        for (const r of records) if (r.key !== null) newest.set(r.key, r.payload);
        return SERIES.every((s) => newest.has(s) && newest.get(s) === null) ? newest : undefined;
      },
      30_000,
      'tombstones for both series in the changelog',
    );
    expect([...last.keys()].sort()).toEqual(SERIES);
    // Before its tombstone each series had real state written (it was forecast).
    const frames = kcatConsume(b, changelog).filter((r) => r.payload !== null);
    expect(new Set(frames.map((r) => r.key))).toEqual(new Set(SERIES));
    await waitFor(() => /dropped the state/.test(first.stderr()), 10_000, "the eviction log line");
    expect(first.stderr()).toMatch(/dropped the state of \d+ series \(\d+ expired by state\.ttl/);
    const port = await first.port();
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`streamcast_series_evicted_total\\{pipeline="${t.name}",reason="ttl"\\} 2`));
    // /series/:id forgets them with their state: the forecast each got before expiring is not answered.
    for (const series of SERIES) expect((await fetch(`http://127.0.0.1:${port}/series/${series}`)).status).toBe(404);
    first.child.kill('SIGTERM');
    expect(await first.exited, first.stderr()).toEqual({ code: 0, signal: null });

    // A new instance restores the partitions: the tombstones resurrect nothing.
    const second = startRun(spec, b);
    runs.push(second);
    await waitFor(async () => (await readyz(await second.port())) === 200, 30_000, 'the second instance to be ready');
    const restores = [...second.stderr().matchAll(/restored partition \d+: (\d+) series/g)].map((m) => Number(m[1]));
    expect(restores).toHaveLength(2);
    expect(restores.reduce((a, n) => a + n, 0)).toBe(0);
    second.child.kill('SIGTERM');
    expect(await second.exited, second.stderr()).toEqual({ code: 0, signal: null });
  });
});
