import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { exitGuard } from '../../../src/runtime/exitGuard.js';
import type { LogSink } from '../../../src/observability/logger.js';

const logger = { error: vi.fn(), warn: vi.fn(), info: vi.fn(), debug: vi.fn() } as unknown as LogSink;

describe('exitGuard', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('exits with the code once the bound has passed, and says why', () => {
    const exit = vi.fn();
    exitGuard({ code: 1, afterMs: 5000, ref: true, logger, what: 'stopping after the failure did not finish', exit });
    vi.advanceTimersByTime(4999);
    expect(exit).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(exit).toHaveBeenCalledWith(1);
    expect(logger.error).toHaveBeenCalledWith(expect.anything(), expect.stringContaining('exiting with 1'));
  });

  it('does nothing once cancelled (the stop finished in time)', () => {
    const exit = vi.fn();
    const cancel = exitGuard({ code: 2, afterMs: 1000, ref: false, logger, what: 'x', exit });
    cancel();
    vi.advanceTimersByTime(10_000);
    expect(exit).not.toHaveBeenCalled();
  });
});
