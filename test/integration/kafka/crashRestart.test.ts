import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { repoRoot } from '../../helpers/cli.js';
import { describeWithKafkaTools, kafkaCase, kcatConsume, offsets, points, readyz, startRun, trackedRuns, waitFor, waitForEveryStep } from './harness.js';

const SERIES = ['s-a', 's-b', 's-c'];
const STEPS = 150;

describeWithKafkaTools('streamcast run: kill -9 mid-stream and restart loses nothing (at-least-once)', () => {
  const runs = trackedRuns();

  it('every (series, step) has at least one forecast after a crash and a restart', async () => {
    const { brokers: b, kafka, t, spec, input, want } = await kafkaCase('crash', { partitions: 2, series: SERIES, steps: STEPS });
    const file = join(mkdtempSync(join(tmpdir(), 'streamcast-crash-')), 'points.jsonl');
    writeFileSync(file, input.map((p) => JSON.stringify(p)).join('\n') + '\n');

    const first = startRun(spec, b);
    runs.push(first);
    await waitFor(async () => (await readyz(await first.port())) === 200, 30_000, 'the first instance to be ready');

    // `streamcast produce` paced at 150 records/s: the input is still arriving when we kill.
    const producer = spawn(process.execPath, ['bin/streamcast.js', 'produce', '--topic', t.input, '--input', file, '--rate', '150', '-q'], {
      cwd: repoRoot,
      env: { ...process.env, KAFKA_BROKERS: b },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let producerErr = '';
    producer.stderr.setEncoding('utf8').on('data', (c: string) => (producerErr += c));
    const produced = new Promise<number | null>((resolve) => producer.on('close', resolve));

    const before = await waitFor(() => {
      const n = kcatConsume(b, t.output).length;
      return n >= 30 ? n : undefined;
    }, 30_000, 'the first forecasts');
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    expect(before).toBeLessThan(input.length); // it died mid-stream

    const second = startRun(spec, b);
    runs.push(second);
    expect(await produced, producerErr).toBe(0);
    expect(producerErr).toContain(`produced ${input.length} points`);

    const have = await waitForEveryStep(b, t.output, want, { what: 'a forecast for every (series, step) after the restart', logs: () => second.stderr().slice(-3000) });
    expect([...want].filter((k) => !have.has(k))).toEqual([]);

    second.child.kill('SIGTERM');
    expect(await second.exited, second.stderr()).toEqual({ code: 0, signal: null });
    const { committed, end } = await offsets(kafka, `streamcast-${t.name}`, t.input);
    expect(new Map([...committed].map(([p, o]) => [p, o === '-1' ? '0' : o]))).toEqual(end);
  });
});
