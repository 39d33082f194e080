import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../../src/domain/errors.js';
import { createLogger } from '../../../src/observability/logger.js';
import { FORCED_EXIT_CODE, onShutdown, type ShutdownOptions } from '../../../src/runtime/shutdown.js';

function setup(handler: (signal: string) => Promise<void>, timeoutMs = 1000, extra: Partial<ShutdownOptions> = {}) {
  const proc = new EventEmitter();
  const exits: number[] = [];
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
        cb();
      },
    }),
  });
  const dispose = onShutdown(handler, { timeoutMs, logger, exit: (c) => exits.push(c), process: proc, ...extra });
  return { proc, exits, logs, dispose };
}

/** Lets queued promise callbacks run under fake timers. */
const flush = () => vi.advanceTimersByTimeAsync(0);

describe('onShutdown', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs the handler once on SIGTERM and exits 0 when it completes', async () => {
    const handler = vi.fn(async (_signal: string) => {});
    const { proc, exits, logs } = setup(handler);
    expect(exits).toEqual([]);
    proc.emit('SIGTERM');
    await flush();
    expect(handler).toHaveBeenCalledTimes(1);
    expect(handler).toHaveBeenCalledWith('SIGTERM');
    expect(exits).toEqual([0]);
    expect(logs.map((l) => l['msg'])).toContain('shutdown complete');
  });

  it('leaves the exit to the command with exitWhenDone false, and speaks the command\'s words', async () => {
    const messages = { stopping: 'stopping at the next safe point', timedOut: 'could not stop; output files may be incomplete' };
    const done = setup(async () => {}, 1000, { exitWhenDone: false, messages });
    done.proc.emit('SIGINT');
    await flush();
    expect(done.exits).toEqual([]);
    expect(done.logs.map((l) => l['msg'])).toContain('received SIGINT: stopping at the next safe point');
    // Nothing left to cut short: no timer fires later.
    await vi.advanceTimersByTimeAsync(5000);
    expect(done.exits).toEqual([]);
    const stuck = setup(() => new Promise<void>(() => {}), 1000, { exitWhenDone: false, messages });
    stuck.proc.emit('SIGINT');
    await vi.advanceTimersByTimeAsync(1000);
    expect(stuck.exits).toEqual([1]);
    const text = stuck.logs.map((l) => String(l['msg'])).join(' ');
    expect(text).toContain('output files may be incomplete');
    expect(text).not.toMatch(/offset/i);
  });

  it('handles SIGINT the same way', async () => {
    const handler = vi.fn(async () => {});
    const { proc, exits } = setup(handler);
    proc.emit('SIGINT');
    await flush();
    expect(handler).toHaveBeenCalledWith('SIGINT');
    expect(exits).toEqual([0]);
  });

  it('exits 1 when the handler fails, and logs the error', async () => {
    const { proc, exits, logs } = setup(async () => {
      throw new Error('commit failed');
    });
    proc.emit('SIGTERM');
    await flush();
    expect(exits).toEqual([1]);
    const err = logs.find((l) => l['level'] === 50)?.['err'] as { message?: string } | undefined;
    expect(err?.message).toBe('commit failed');
  });

  it('exits 1 when the handler throws synchronously', async () => {
    const { proc, exits } = setup(() => {
      throw new Error('sync');
    });
    proc.emit('SIGTERM');
    await flush();
    expect(exits).toEqual([1]);
  });

  it('exits 1 when the handler outlives the timeout', async () => {
    const { proc, exits } = setup(() => new Promise<void>(() => {}), 5000);
    proc.emit('SIGTERM');
    await vi.advanceTimersByTimeAsync(4999);
    expect(exits).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(exits).toEqual([1]);
  });

  it('exits 130 at once on a second signal, and only once', async () => {
    const { proc, exits } = setup(() => new Promise<void>(() => {}), 5000);
    proc.emit('SIGTERM');
    await flush();
    proc.emit('SIGINT');
    expect(exits).toEqual([FORCED_EXIT_CODE]);
    expect(FORCED_EXIT_CODE).toBe(130);
    proc.emit('SIGTERM');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(exits).toEqual([130]);
  });

  it('does not run the handler twice or exit again after completion', async () => {
    const handler = vi.fn(async () => {});
    const { proc, exits } = setup(handler);
    proc.emit('SIGTERM');
    await flush();
    proc.emit('SIGTERM');
    await flush();
    expect(handler).toHaveBeenCalledTimes(1);
    expect(exits).toEqual([0]);
  });

  it('disposer removes its signal listeners', () => {
    const { proc, dispose } = setup(async () => {});
    expect(proc.listenerCount('SIGTERM')).toBe(1);
    expect(proc.listenerCount('SIGINT')).toBe(1);
    dispose();
    dispose();
    expect(proc.listenerCount('SIGTERM')).toBe(0);
    expect(proc.listenerCount('SIGINT')).toBe(0);
  });

  it('rejects a non-positive timeout', () => {
    expect(() => onShutdown(async () => {}, { timeoutMs: 0, exit: () => {}, process: new EventEmitter() })).toThrow(ConfigError);
  });
});
