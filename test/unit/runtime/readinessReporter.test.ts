import { describe, expect, it } from 'vitest';
import type { PipelineEvent } from '../../../src/observability/events.js';
import { readinessReporter } from '../../../src/runtime/readinessReporter.js';

describe('readinessReporter', () => {
  it('emits the first state and then only changes', () => {
    const seen: PipelineEvent[] = [];
    let ready = false;
    const check = readinessReporter(() => ({ ready }), (e) => seen.push(e));
    expect(check()).toBe(false);
    check();
    ready = true;
    expect(check()).toBe(true);
    check();
    ready = false;
    check();
    expect(seen).toEqual([
      { type: 'readiness', ready: false },
      { type: 'readiness', ready: true },
      { type: 'readiness', ready: false },
    ]);
  });
});
