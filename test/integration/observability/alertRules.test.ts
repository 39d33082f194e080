import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { repoRoot } from '../../helpers/cli.js';
import { describeWithCommand } from '../../helpers/commands.js';

const dir = join(repoRoot, 'deploy', 'prometheus');
const promtool = (...args: string[]) => spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' });

describeWithCommand('promtool', 'apt-get install -y --no-install-recommends prometheus (.ci/run does)', 'Prometheus alert rules', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'streamcast-alerts-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('pass promtool check rules', () => {
    const r = promtool('check', 'rules', 'alerts.yml');
    expect(`${r.stdout}${r.stderr}`).toMatch(/SUCCESS: 6 rules found/);
    expect(r.status).toBe(0);
  });

  it('pass their unit tests (each alert fires on synthetic series and stays quiet on healthy ones)', () => {
    const r = promtool('test', 'rules', 'alerts.test.yml');
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    const tested = new Set([...readFileSync(join(dir, 'alerts.test.yml'), 'utf8').matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
    const defined = [...readFileSync(join(dir, 'alerts.yml'), 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    expect(defined.filter((a) => !tested.has(a))).toEqual([]);
  });

  it('the unit tests can fail: a broken threshold is caught', () => {
    const broken = readFileSync(join(dir, 'alerts.yml'), 'utf8').replace('> 0.05', '> 0.5');
    writeFileSync(join(scratch, 'alerts.yml'), broken);
    copyFileSync(join(dir, 'alerts.test.yml'), join(scratch, 'alerts.test.yml'));
    const r = spawnSync('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: scratch, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/StreamcastDeadLetterRateHigh/);
  });
});
