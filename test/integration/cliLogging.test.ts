import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../helpers/cli.js';

/** Top-level keys of a JSON object text that occur more than once (JSON.parse silently keeps the last). */
function duplicateKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      const end = /^"(?:[^"\\]|\\.)*"/.exec(line.slice(i))![0];
      if (depth === 1 && line[i + end.length] === ':') keys.push(JSON.parse(end) as string);
      i += end.length - 1;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys.filter((k, i) => keys.indexOf(k) !== i);
}

const COMMANDS = ['demo', 'replay', 'backtest', 'run', 'produce', 'train'];

describe('logging and version flags', () => {
  it('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('every command takes --log-level and --log-format', async () => {
    const helps = await Promise.all(COMMANDS.map((c) => runCli([c, '--help'])));
    for (const [i, r] of helps.entries()) {
      expect(r.code, COMMANDS[i]).toBe(0);
      expect(r.stdout, COMMANDS[i]).toMatch(/--log-level <level>/);
      expect(r.stdout, COMMANDS[i]).toMatch(/--log-format <format>/);
    }
    const bad = await runCli(['replay', 'pipelines/demo.yaml', '--input', 'x.csv', '--log-format', 'xml']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Allowed choices are json, pretty/);
  });

  it('--log-format json: every log line is one JSON object without repeated keys, and no TensorFlow.js banner', async () => {
    // The demo loads the shipped GRU (models/demo): building its tfjs model is what printed the banner.
    const r = await runCli(['demo', '--no-http', '--limit', '200', '--rate', '0', '--log-format', 'json', '--log-level', 'debug']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/TensorFlow\.js|={10}/);
    // The closing summary is the command's result, printed as text after the run.
    const lines = r.stderr.split('\n').filter((l) => l !== '' && !/^(done|stopped): /.test(l));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) {
      expect(() => JSON.parse(l) as unknown, l).not.toThrow();
      expect(duplicateKeys(l), l).toEqual([]);
    }
    expect(lines.some((l) => (JSON.parse(l) as { msg?: string }).msg?.startsWith('loaded model'))).toBe(true);
  });

  it('--log-format pretty writes human lines', async () => {
    const r = await runCli(['demo', '--no-http', '--limit', '50', '--rate', '0', '--log-format', 'pretty']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: loaded model v\d+/m);
  });
});

describe('bin/streamcast.js', () => {
  // A copy of the bin in a scratch package whose dist/ and src/ entry points say which one ran.
  function scratch(): string {
    const dir = mkdtempSync(join(tmpdir(), 'streamcast-bin-'));
    mkdirSync(join(dir, 'bin'));
    copyFileSync(join(repoRoot, 'bin', 'streamcast.js'), join(dir, 'bin', 'streamcast.js'));
    symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
    mkdirSync(join(dir, 'src', 'cli'), { recursive: true });
    writeFileSync(join(dir, 'src', 'main.ts'), "const from: string = 'src';\nconsole.log(from);\n");
    writeFileSync(join(dir, 'src', 'cli', 'x.ts'), 'export {};\n');
    return dir;
  }
  const which = (dir: string) => spawnSync(process.execPath, [join(dir, 'bin', 'streamcast.js')], { encoding: 'utf8', timeout: 60_000 });
  const age = (path: string, secondsAgo: number) => {
    const t = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(path, t, t);
  };

  it('runs the TypeScript sources through tsx when there is no dist/', () => {
    const dir = scratch();
    expect(which(dir).stdout.trim()).toBe('src');
  });

  it('runs dist/ with plain node when it is newer than every source file', () => {
    const dir = scratch();
    mkdirSync(join(dir, 'dist'));
    writeFileSync(join(dir, 'dist', 'main.js'), "console.log('dist');\n");
    age(join(dir, 'src', 'main.ts'), 60);
    age(join(dir, 'src', 'cli', 'x.ts'), 60);
    expect(which(dir).stdout.trim()).toBe('dist');
  });

  it('runs the sources when one changed after the build (a stale dist/ never runs)', () => {
    const dir = scratch();
    mkdirSync(join(dir, 'dist'));
    writeFileSync(join(dir, 'dist', 'main.js'), "console.log('dist');\n");
    age(join(dir, 'dist', 'main.js'), 60);
    age(join(dir, 'src', 'main.ts'), 120);
    expect(which(dir).stdout.trim()).toBe('src');
  });
});
