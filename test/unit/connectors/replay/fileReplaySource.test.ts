import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, lastValueFrom, toArray, VirtualTimeScheduler } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { FileReplaySource } from '../../../../src/connectors/replay/fileReplaySource.js';
import type { Ingested } from '../../../../src/domain/ingested.js';
import { ConfigError } from '../../../../src/domain/errors.js';
import { datasetsDir, describeWithDatasets } from '../../../helpers/datasets.js';

const dir = mkdtempSync(join(tmpdir(), 'replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const H = 3_600_000;
const T0 = Date.UTC(2015, 0, 1);

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
function hourly(n: number, offsetMin = 0): string {
  let s = 'timestamp,value\n';
  for (let i = 0; i < n; i++) s += `${new Date(T0 + i * H + offsetMin * 60_000).toISOString().replace('T', ' ').slice(0, 19)},${i}\n`;
  return s;
}
async function collect(source: FileReplaySource): Promise<Ingested[]> {
  await source.start();
  return lastValueFrom(source.records().pipe(toArray()));
}

describe('FileReplaySource', () => {
  it('replays one CSV file, one record per row with positions', async () => {
    const p = file('one.csv', hourly(3));
    const rs = await collect(new FileReplaySource({ paths: [p] }));
    expect(rs.flatMap((r) => r.points)).toEqual([0, 1, 2].map((i) => ({ series: 'one', ts: T0 + i * H, value: i })));
    expect(rs.map((r) => r.position)).toEqual(['3', '4', '5'].map((offset) => ({ topic: p, partition: 0, offset })));
  });

  it('merges several files by time, stably (ties in file order)', async () => {
    const a = file('a.csv', hourly(3));
    const b = file('b.csv', hourly(3, 30));
    const c = file('c.csv', hourly(2));
    const rs = await collect(new FileReplaySource({ paths: [a, b, c] }));
    const seq = rs.flatMap((r) => r.points.map((p) => `${p.series}@${(p.ts - T0) / 60_000}`));
    expect(seq).toEqual(['a@0', 'c@0', 'b@30', 'a@60', 'c@60', 'b@90', 'a@120', 'b@150']);
    expect(rs.map((r) => r.position.partition)).toEqual([0, 2, 1, 0, 2, 1, 0, 1]);
  });

  it('replays JSON lines through the json codec, dead letters included', async () => {
    const p = file('in.jsonl', '{"series":"s","ts":1,"value":1}\n\n{"series":"s","ts":"bad","value":1}\n[{"series":"s","ts":3,"value":null}]\n');
    const rs = await collect(new FileReplaySource({ paths: [p] }));
    expect(rs.flatMap((r) => r.points)).toEqual([
      { series: 's', ts: 1, value: 1 },
      { series: 's', ts: 3, value: null },
    ]);
    expect(rs.flatMap((r) => r.deadLetters).map((d) => [d.reason, d.source.offset])).toEqual([['invalid_ts', '3']]);
    expect(rs.map((r) => r.position.offset)).toEqual(['2', '4', '5']);
  });

  it('honours limit and reports progress', async () => {
    const source = new FileReplaySource({ paths: [file('lim.csv', hourly(10))], limit: 4 });
    expect(source.progress()).toBe(0);
    const rs = await collect(source);
    expect(rs).toHaveLength(4);
    expect(source.progress()).toBe(1);
  });

  it('processed() counts only records whose positions were committed, not those read ahead', async () => {
    const source = new FileReplaySource({ paths: [file('proc.csv', hourly(10))] });
    const rs = await collect(source);
    expect(source.progress()).toBe(1);
    expect(source.processed()).toBe(0);
    await source.commit([rs[3]!.position]);
    expect(source.processed()).toBeCloseTo(0.4);
    await source.commit([rs[9]!.position]);
    expect(source.processed()).toBe(1);
  });

  it('emits in chunks, yielding to the event loop between them', async () => {
    const yields: Array<() => void> = [];
    const source = new FileReplaySource({ paths: [file('chunks.csv', hourly(10))], chunkSize: 4, yieldToLoop: (r) => yields.push(r) });
    const seen: Ingested[] = [];
    let done = false;
    source.records().subscribe({ next: (r) => seen.push(r), complete: () => (done = true) });
    await source.start();
    const step = () => yields.shift()!();
    step();
    expect(seen).toHaveLength(4);
    expect(source.progress()).toBeCloseTo(0.4);
    step();
    expect(seen).toHaveLength(8);
    step();
    expect(seen).toHaveLength(10);
    expect(done).toBe(true);
  });

  it('stops delivering the very next record on pause() and continues on resume()', async () => {
    const yields: Array<() => void> = [];
    const source = new FileReplaySource({ paths: [file('pause.csv', hourly(6))], yieldToLoop: (r) => yields.push(r) });
    const seen: number[] = [];
    source.records().subscribe((r) => {
      seen.push(r.points[0]!.value!);
      if (seen.length === 2) source.pause();
    });
    await source.start();
    yields.shift()!();
    expect(seen).toEqual([0, 1]);
    expect(yields).toHaveLength(0);
    source.resume();
    yields.shift()!();
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('waits for a subscriber even when started first', async () => {
    const source = new FileReplaySource({ paths: [file('late.csv', hourly(2))] });
    await source.start();
    await new Promise((r) => setImmediate(r));
    const rs = await lastValueFrom(source.records().pipe(toArray()));
    expect(rs).toHaveLength(2);
  });

  it('stop() completes the stream early; stop and start are idempotent', async () => {
    const yields: Array<() => void> = [];
    const source = new FileReplaySource({ paths: [file('stop.csv', hourly(10))], chunkSize: 3, yieldToLoop: (r) => yields.push(r) });
    const seen: Ingested[] = [];
    let completed = 0;
    source.records().subscribe({ next: (r) => seen.push(r), complete: () => completed++ });
    await Promise.all([source.start(), source.start()]);
    yields.shift()!();
    await source.stop();
    await source.stop();
    yields.shift()?.();
    expect(seen).toHaveLength(3);
    expect(completed).toBe(1);
    expect(source.progress()).toBeCloseTo(0.3);
  });

  it('paces by event time with speed, on a virtual scheduler', async () => {
    const scheduler = new VirtualTimeScheduler();
    const source = new FileReplaySource({ paths: [file('speed.csv', hourly(4))], speed: 3600, scheduler, yieldToLoop: (r) => r() });
    const at: number[] = [];
    source.records().subscribe(() => at.push(scheduler.now()));
    await source.start();
    scheduler.flush();
    // One hour of data per second of wall time.
    expect(at).toEqual([0, 1000, 2000, 3000]);
  });

  it('caps the rate, and a pause does not cause a burst afterwards', async () => {
    const scheduler = new VirtualTimeScheduler();
    const source = new FileReplaySource({ paths: [file('rate.csv', hourly(4))], rate: 2, scheduler, yieldToLoop: (r) => r() });
    const at: number[] = [];
    source.records().subscribe(() => {
      at.push(scheduler.now());
      if (at.length === 2) {
        source.pause();
        scheduler.schedule(() => source.resume(), 5000);
      }
    });
    await source.start();
    scheduler.flush();
    // A pause freezes the replay clock: the third record still waits its remaining 500 ms.
    expect(at).toEqual([0, 500, 6000, 6500]);
  });

  it('remembers the highest committed position per file', async () => {
    const source = new FileReplaySource({ paths: [file('c1.csv', hourly(1)), file('c2.csv', hourly(1))] });
    await source.commit([{ topic: 'x', partition: 1, offset: '9' }, { topic: 'y', partition: 0, offset: '3' }]);
    await source.commit([{ topic: 'x', partition: 1, offset: '5' }, { topic: 'y', partition: 0, offset: '12' }]);
    expect(source.committed()).toEqual([
      { topic: 'y', partition: 0, offset: '12' },
      { topic: 'x', partition: 1, offset: '9' },
    ]);
  });

  it('applies faults: holes and seeded drops, keeping positions', async () => {
    const p = file('faults.csv', hourly(100));
    const run = (seed: number) => collect(new FileReplaySource({ paths: [p], faults: { drop: 0.3, seed, hole: { start: T0 + 10 * H, durationMs: 5 * H } } }));
    const [a, b] = [await run(7), await run(7)];
    expect(a).toHaveLength(100);
    const kept = a.flatMap((r) => r.points);
    expect(kept).toEqual(b.flatMap((r) => r.points));
    expect(kept.some((p) => p.ts >= T0 + 10 * H && p.ts < T0 + 15 * H)).toBe(false);
    expect(kept.length).toBeGreaterThan(45);
    expect(kept.length).toBeLessThan(85);
  });

  it('rejects bad options and missing files with ConfigErrors', async () => {
    expect(() => new FileReplaySource({ paths: [] })).toThrow(ConfigError);
    expect(() => new FileReplaySource({ paths: ['x'], speed: -1 })).toThrow(/speed/);
    expect(() => new FileReplaySource({ paths: ['x'], rate: 0 })).toThrow(/rate/);
    const source = new FileReplaySource({ paths: [join(dir, 'nope.csv')] });
    const errored = firstValueFrom(source.records()).catch((e: unknown) => e);
    await expect(source.start()).rejects.toThrow(/does not exist; check the --input path/);
    expect(await errored).toBeInstanceOf(ConfigError);
  });
});

describeWithDatasets('FileReplaySource on real data', () => {
  it('merges the 10 NAB realTweets files into one non-decreasing 10-series stream', async () => {
    const folder = join(datasetsDir, 'nab/realTweets');
    const paths = readdirSync(folder).filter((f) => f.endsWith('.csv')).sort().map((f) => join(folder, f));
    expect(paths).toHaveLength(10);
    const source = new FileReplaySource({ paths });
    const rs = await collect(source);
    const ps = rs.flatMap((r) => r.points);
    let ordered = true;
    for (let i = 1; i < ps.length; i++) if (ps[i]!.ts < ps[i - 1]!.ts) ordered = false;
    expect(ordered).toBe(true);
    expect(new Set(ps.map((p) => p.series)).size).toBe(10);
    expect(ps.some((p) => p.series === 'Twitter_volume_AAPL')).toBe(true);
    expect(rs.flatMap((r) => r.deadLetters)).toEqual([]);
    expect(source.progress()).toBe(1);
  });

  it('replays ETTh1 as 7 series and reports throughput', async () => {
    const path = join(datasetsDir, 'ett/ETTh1.csv');
    const started = performance.now();
    const rs = await collect(new FileReplaySource({ paths: [path] }));
    const ms = performance.now() - started;
    const n = rs.reduce((k, r) => k + r.points.length, 0);
    expect(n).toBe(7 * 17_420);
    console.info(`ETTh1 replay: ${n} points in ${ms.toFixed(0)} ms (${Math.round(n / (ms / 1000)).toLocaleString('en-US')} points/s)`);
  });
});
