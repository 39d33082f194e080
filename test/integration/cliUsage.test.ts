import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'streamcast-cli-'));
const csv = join(dir, 'tiny.csv');
writeFileSync(csv, 'timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 01:00:00,2\n');

describe('streamcast CLI usage errors exit 2 with a fix-it message', () => {
  it('--help exits 0 and lists the commands', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['demo', 'replay', 'backtest']) expect(r.stdout).toContain(c);
  });

  it('an unknown command exits 2', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command/);
  });

  it('an unknown flag exits 2', async () => {
    const r = await runCli(['replay', 'pipelines/demo.yaml', '--input', csv, '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--bogus'/);
  });

  it('a bad number exits 2 and says what is expected', async () => {
    const r = await runCli(['replay', 'pipelines/demo.yaml', '--input', csv, '--rate', 'fast']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/positive number/);
  });

  it('a missing input file exits 2 naming the file', async () => {
    const r = await runCli(['replay', 'pipelines/demo.yaml', '--input', join(dir, 'nope.csv')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nope.csv');
  });

  it('a bad spec exits 2 with the path of the bad field', async () => {
    const spec = join(dir, 'bad.yaml');
    writeFileSync(
      spec,
      'name: bad\ninput: { topic: a }\noutput: { topic: b }\nwindow: { step: 5 minutes }\nmodel: { horizon: 0 }\n',
    );
    const r = await runCli(['replay', spec, '--input', csv]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/window\.step: "5 minutes" is not a duration/);
    expect(r.stderr).toMatch(/model\.horizon/);
  });

  it('a spec that is not YAML exits 2', async () => {
    const spec = join(dir, 'broken.yaml');
    writeFileSync(spec, 'name: [unclosed\n');
    const r = await runCli(['backtest', spec, '--input', csv]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not valid YAML/);
  });

  it('a bad --hole exits 2', async () => {
    const r = await runCli(['replay', 'pipelines/demo.yaml', '--input', csv, '--hole', 'yesterday']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--hole/);
  });
});
