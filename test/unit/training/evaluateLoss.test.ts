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

  it('prints losses with enough digits to tell them apart, and the relative gap when they still print alike', () => {
    expect(promotionDecision({ candidate: 0.08431, current: 0.08434, baseline: 0.1, mustBeat: 'both' })).toMatchObject({ promote: true });
    expect(promotionDecision({ candidate: 0.084352, current: 0.084301, baseline: 0.1, mustBeat: 'both' }).reason).toBe("candidate loss does not beat the current model's: 0.0843520 vs 0.0843010");
    const close = promotionDecision({ candidate: 0.08430100001, current: 0.084301, baseline: 0.1, mustBeat: 'both' });
    expect(close.reason).toMatch(/^candidate loss does not beat the current model's: 0\.0843010 vs 0\.0843010 \(1\.\d\de-8 %\)$/);
    expect(promotionDecision({ candidate: 0.2, baseline: 0.1, mustBeat: 'baseline' }).reason).toBe("candidate loss does not beat the baseline's: 0.200000 vs 0.100000");
  });

  it('names a fine-tune that no epoch improved (the candidate is the current model), with the best epoch\'s loss', () => {
    const d = promotionDecision({ candidate: 0.0843, current: 0.0843, baseline: 0.1, mustBeat: 'both', unimproved: { epochs: 5, bestEpochLoss: 0.08512 } });
    expect(d).toEqual({ promote: false, reason: 'fine-tuning did not improve on the current model: none of 5 epochs beat its held-out loss (best epoch 0.0851200 vs current 0.0843000); the current model stays' });
    // Without a current model to compare with (mustBeat baseline), the baseline decides as before.
    expect(promotionDecision({ candidate: 0.0843, current: 0.0843, baseline: 0.1, mustBeat: 'baseline', unimproved: { epochs: 5, bestEpochLoss: 0.09 } }).promote).toBe(true);
  });

  it('never promotes without evidence', () => {
    expect(promotionDecision({ candidate: undefined, baseline: 0.4, mustBeat: 'both' }).promote).toBe(false);
    expect(promotionDecision({ candidate: Number.NaN, baseline: 0.4, mustBeat: 'current' }).promote).toBe(false);
    expect(promotionDecision({ candidate: 0.1, baseline: undefined, mustBeat: 'both' }).promote).toBe(false);
  });
});
