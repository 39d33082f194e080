import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';

/**
 * A fresh machine lacks kcat (and the other system tools): `npm test` must still pass there, each
 * suite that needs the tool skipping with one line that names the command installing it, while
 * under CI the same run fails. Runs vitest itself on a PATH without kcat: a folder of links to
 * every program on the real PATH except kcat.
 */
function pathWithout(command: string): string {
  const dir = mkdtempSync(join(tmpdir(), `streamcast-no-${command}-`));
  const seen = new Set<string>([command]);
  for (const d of (process.env['PATH'] ?? '').split(delimiter)) {
    if (d === '') continue;
    let names: string[];
    try {
      names = readdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === undefined) throw err;
      continue; // a PATH entry that does not exist
    }
    for (const n of names) {
      if (seen.has(n)) continue;
      try {
        accessSync(join(d, n), constants.X_OK);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === undefined) throw err;
        continue;
      }
      seen.add(n);
      symlinkSync(join(d, n), join(dir, n));
    }
  }
  return dir;
}

function vitest(files: readonly string[], env: NodeJS.ProcessEnv) {
  // Run through this node (process.execPath): which node is on PATH must not matter.
  const cli = join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs');
  const { CI: _ci, ...rest } = process.env;
  return spawnSync(process.execPath, [cli, 'run', ...files], {
    cwd: repoRoot,
    // A broker address that is never contacted: the suites skip (or fail) before reaching it.
    env: { ...rest, NO_COLOR: '1', STREAMCAST_START_SERVICES: '0', KAFKA_BROKERS: '127.0.0.1:9', ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
}

const KCAT_SUITES = ['test/integration/kafka/endToEnd.test.ts', 'test/integration/kafka/crashRestart.test.ts'];

describe('a machine without kcat', () => {
  const PATH = pathWithout('kcat');

  it('skips the suites that need it, one line each naming `npm run setup:services`, and passes', { timeout: 150_000 }, () => {
    const r = vitest(KCAT_SUITES, { PATH });
    // eslint-disable-next-line no-control-regex
    const out = (r.stdout + r.stderr).replace(/\x1b\[[0-9;]*m/g, '');
    expect(r.status, out).toBe(0);
    const lines = out.split('\n').filter((l) => /^skipping ".*": .*kcat not found on PATH; install it with `npm run setup:services`/.test(l));
    expect(lines, out).toHaveLength(KCAT_SUITES.length);
    expect(out).not.toMatch(/\(null\): null/);
  });

  it('fails under CI, naming kcat', { timeout: 150_000 }, () => {
    const r = vitest([KCAT_SUITES[0]!], { PATH, CI: 'true' });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/kcat not found on PATH/);
  });
});
