import { describe, expect, it } from 'vitest';
import { promotionDecision } from '../../../src/training/evaluateLoss.js';

describe('promotionDecision', () => {
  it('promotes only a candidate that beats what mustBeat names', () => {
    expect(promotionDecision({ candidate: 0.3, baseline: 0.4, mustBeat: 'both' }).promote).toBe(true);
    expect(promotionDecision({ candidate: 0.3, current: 0.35, baseline: 0.4, mustBeat: 'both' }).promote).toBe(true);
    expect(promotionDecision({ candidate: 0.3, current: 0.25, baseline: 0.4, mustBeat: 'both' })).toMatchObject({ promote: false, reason: expect.stringMatching(/current/) });
    expect(promotionDecision({ candidate: 0.3, current: 0.25, baseline: 0.4, mustBeat: 'baseline' }).promote).toBe(true);
    expect(promotionDecision({ candidate: 0.45, current: 0.5, baseline: 0.4, mustBeat: 'current' }).promote).toBe(true);
    expect(promotionDecision({ candidate: 0.45, current: 0.5, baseline: 0.4, mustBeat: 'both' })).toMatchObject({ promote: false, reason: expect.stringMatching(/baseline/) });
    expect(promotionDecision({ candidate: 0.4, baseline: 0.4, mustBeat: 'baseline' }).promote).toBe(false);
  });

  it('never promotes without evidence', () => {
    expect(promotionDecision({ candidate: undefined, baseline: 0.4, mustBeat: 'both' }).promote).toBe(false);
    expect(promotionDecision({ candidate: Number.NaN, baseline: 0.4, mustBeat: 'current' }).promote).toBe(false);
    expect(promotionDecision({ candidate: 0.1, baseline: undefined, mustBeat: 'both' }).promote).toBe(false);
  });
});
