import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/domain/errors.js';
import { createLogger, formatPretty } from '../../../src/observability/logger.js';

function capture() {
  const stream = new PassThrough();
  const lines: string[] = [];
  let buf = '';
  stream.on('data', (c: Buffer) => {
    buf += c.toString('utf8');
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  return { stream, lines };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('createLogger', () => {
  it('writes JSON lines at or above the level to the given destination', async () => {
    const { stream, lines } = capture();
    const log = createLogger({ level: 'info', destination: stream });
    log.debug('hidden');
    log.info({ partition: 3 }, 'assigned');
    await tick();
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(rec).toMatchObject({ level: 30, msg: 'assigned', partition: 3 });
    expect(typeof rec['time']).toBe('number');
  });

  it('defaults to info and to stderr, leaving stdout to forecasts', () => {
    const loggerUrl = new URL('../../../src/observability/logger.ts', import.meta.url).href;
    const script = `const { createLogger } = await import(${JSON.stringify(loggerUrl)});
      const log = createLogger(); log.debug('hidden'); log.info('to stderr');`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, msg: 'to stderr' });
  });

  it('writes compact human lines when pretty', async () => {
    const { stream, lines } = capture();
    const log = createLogger({ pretty: true, destination: stream });
    log.warn({ topic: 'metrics.cpu', lag: 12 }, 'consumer behind');
    await tick();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN  consumer behind topic=metrics\.cpu lag=12$/);
  });

  it('rejects an unknown level with the list of valid ones', () => {
    expect(() => createLogger({ level: 'verbose' })).toThrow(ConfigError);
    expect(() => createLogger({ level: 'verbose' })).toThrow(/trace, debug, info/);
  });
});

describe('formatPretty', () => {
  it('puts an error stack on the following lines', () => {
    const line = JSON.stringify({ level: 50, time: 0, msg: 'boom', err: { message: 'x', stack: 'Error: x\n    at f (a.ts:1)' } });
    expect(formatPretty(line)).toBe('00:00:00.000 ERROR boom\n  Error: x\n      at f (a.ts:1)');
  });

  it('quotes string values with spaces and passes non-JSON lines through', () => {
    expect(formatPretty(JSON.stringify({ level: 30, time: 0, msg: 'm', reason: 'two words' }))).toBe(
      '00:00:00.000 INFO  m reason="two words"',
    );
    expect(formatPretty('not json')).toBe('not json');
  });
});
