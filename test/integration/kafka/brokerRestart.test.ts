import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, expect, it } from 'vitest';
import { repoRoot } from '../../helpers/cli.js';
import { commandProblem, describeWhen, SETUP_COMMAND } from '../../helpers/tools.js';
import { createTopic, forecastsByStep, kcatConsume, kcatProduce, points, readyz, specTopics, startRun, stepKeys, testKafka, trackedRuns, waitFor, waitForEveryStep, writeSpec } from './harness.js';
import { freePort } from './ownBroker.js';

/**
 * A broker of its own (deploy/kafka/kafka.sh on a free port, its own KAFKA_CACHE_DIR), restarted
 * mid-stream. `kafka.sh start` formats fresh storage, so the restart re-launches the broker's JVM
 * with its original command line on the same data directory instead.
 */
const script = join(repoRoot, 'deploy', 'kafka', 'kafka.sh');
const libs = join(repoRoot, '.cache', 'kafka', 'libs');
const SERIES = ['br-a', 'br-b', 'br-c', 'br-d'];
const STEPS = 80;

// Needs java, the jars the global setup fetched and kcat; on CI their absence fails.
const jarsProblem = existsSync(libs) ? undefined : `no Kafka jars in ${libs}; fetch them with \`${SETUP_COMMAND}\` (or: bash deploy/kafka/kafka.sh fetch)`;

describeWhen('streamcast run, exactly-once: the broker restarts mid-stream', [commandProblem('java'), jarsProblem, commandProblem('kcat')], () => {
  const env: NodeJS.ProcessEnv = {};
  const runs = trackedRuns();
  afterAll(() => {
    if (env['KAFKA_PORT'] !== undefined) spawnSync('bash', [script, 'stop'], { env: { ...process.env, ...env }, stdio: 'ignore', timeout: 60_000 });
  });

  it('processing resumes after the restart and nothing is lost or duplicated', { timeout: 180_000 }, async () => {
    const cache = mkdtempSync(join(tmpdir(), 'streamcast-kafka-restart-'));
    symlinkSync(libs, join(cache, 'libs'));
    env['KAFKA_CACHE_DIR'] = cache;
    env['KAFKA_PORT'] = String(await freePort());
    const started = spawnSync('bash', [script, 'start'], { env: { ...process.env, ...env, KAFKA_WARMUP: '1' }, encoding: 'utf8', timeout: 120_000 });
    expect(started.status, started.stderr).toBe(0);
    const b = `127.0.0.1:${env['KAFKA_PORT']}`;
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
    const pidFile = join(cache, `kafka-${env['KAFKA_PORT']}.pid`);
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    process.kill(pid, 'SIGTERM');
    await waitFor(() => !existsSync(`/proc/${pid}`) || undefined, 60_000, 'the broker to stop');
    await waitFor(async () => (await readyz(port)) !== 200 || undefined, 30_000, '/readyz to report the outage').catch(() => undefined);
    await sleep(1000);
    const log = openSync(join(cache, `kafka-${env['KAFKA_PORT']}.log`), 'a');
    const broker = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
    broker.unref();
    writeFileSync(pidFile, `${String(broker.pid)}\n`);
    await waitFor(
      () => {
        const r = spawnSync('kcat', ['-b', b, '-L', '-t', t.input, '-m', '2'], { encoding: 'utf8', timeout: 10_000 });
        return (r.status === 0 && /2 partitions/.test(r.stdout)) || undefined;
      },
      60_000,
      'the restarted broker',
    );

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
