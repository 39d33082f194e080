import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

/**
 * Runs `streamcast backtest <args…> --json --quiet` in a child process from the repository root
 * and parses its summary; rejects with the tail of stderr (named by `label`) on a non-zero exit.
 */
export function backtestJson<S>(args: readonly string[], label: string): Promise<{ summary: S; seconds: number; stderr: string }> {
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['bin/streamcast.js', 'backtest', ...args, '--json', '--quiet'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`backtest ${label} exited ${code}: ${err.slice(-2000)}`));
      else resolvePromise({ summary: JSON.parse(out) as S, seconds: (performance.now() - started) / 1000, stderr: err });
    });
  });
}
