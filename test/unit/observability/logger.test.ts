import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/domain/errors.js';
import { createLogger } from '../../../src/observability/logger.js';

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

  it('writes human lines through pino-pretty when the format is pretty', async () => {
    const { stream, lines } = capture();
    const log = createLogger({ format: 'pretty', destination: stream });
    log.warn({ topic: 'metrics.cpu', lag: 12 }, 'consumer behind');
    await tick();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: consumer behind \{"topic":"metrics\.cpu","lag":12\}$/);
  });

  it('rejects an unknown format with the valid ones', () => {
    expect(() => createLogger({ format: 'xml' })).toThrow(ConfigError);
    expect(() => createLogger({ format: 'xml' })).toThrow(/json or pretty/);
  });

  it('never writes a key twice when the call site repeats a key its child logger bound', async () => {
    const { stream, lines } = capture();
    const log = createLogger({ destination: stream }).child({ pipeline: 'demo' });
    log.info({ pipeline: 'demo', version: 1 }, 'loaded model');
    log.info({ pipeline: 'other' }, 'a different value is information, not repetition');
    await tick();
    expect(lines[0]!.match(/"pipeline":/g)).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ pipeline: 'demo', version: 1, msg: 'loaded model' });
    expect(lines[1]).toContain('"pipeline":"other"');
  });

  it('rejects an unknown level with the list of valid ones', () => {
    expect(() => createLogger({ level: 'verbose' })).toThrow(ConfigError);
    expect(() => createLogger({ level: 'verbose' })).toThrow(/trace, debug, info/);
  });
});
