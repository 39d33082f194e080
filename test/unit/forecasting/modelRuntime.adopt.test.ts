import { describe, expect, it } from 'vitest';
import { featureLayout } from '../../../src/forecasting/gru/featureLayout.js';
import { initGruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import type { GruModelWeights } from '../../../src/forecasting/gru/gruWeights.js';
import { ModelRuntime } from '../../../src/forecasting/modelRuntime.js';
import type { TrainerLike } from '../../../src/forecasting/modelRuntime.js';
import type { ArtifactInfo } from '../../../src/training/artifactStore.js';
import type { TrainRequest } from '../../../src/training/trainer.js';
import { runtimeSpec } from '../../helpers/runtimeSpec.js';
import { seasonalSteps } from '../../helpers/trainingSeries.js';

const spec = runtimeSpec({ promote: { mustBeat: 'baseline' } });

function weights(seed: number, version: number, units = 8): GruModelWeights {
  return initGruModelWeights({ layout: featureLayout(['hourOfDay'], 6), units, horizon: 4, quantiles: [0.1, 0.5, 0.9] }, seed, version);
}

/** Trains instantly; `gate` (when set) holds the result until released. */
function trainer(): { factory: () => TrainerLike; requests: TrainRequest[]; cancels: () => number } {
  const requests: TrainRequest[] = [];
  let cancels = 0;
  const t: TrainerLike = {
    train: async (req) => {
      requests.push(req);
      return { status: 'done', weights: req.init, valLoss: 0.001, initialValLoss: 1, currentValLoss: undefined, bestEpoch: 1, epochs: 1, history: [], durationMs: 1, backend: 'fake' };
    },
    cancel: () => void cancels++,
    close: async () => undefined,
  };
  return { factory: () => t, requests, cancels: () => cancels };
}

const steps = seasonalSteps('a', { n: 400, seed: 3 });

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
}

describe('ModelRuntime: adopting models trained elsewhere, retraining toggled at run time', () => {
  it('adopt() serves a newer compatible model from the next step (lazy re-warm); older, equal and misfit versions are ignored', async () => {
    const rt = new ModelRuntime({ spec, retrain: 'off' });
    expect(rt.step(steps.slice(0, 50))[0]!.model.kind).toBe('baseline');
    expect(rt.adopt(weights(1, 3))).toBe(true);
    expect(rt.adopt(weights(2, 3))).toBe(false);
    expect(rt.adopt(weights(2, 2))).toBe(false);
    expect(rt.adopt(weights(2, 9, 16))).toBe(false); // hidden 16, spec says 8
    const fc = rt.step(steps.slice(50, 60));
    expect(fc.every((f) => f.model.kind === 'gru' && f.model.version === 3)).toBe(true);
    expect(rt.adopt(weights(4, 4))).toBe(true);
    expect(rt.step(steps.slice(60, 61))[0]!.model.version).toBe(4);
    await rt.close();
  });

  it("retrains only while switched on; a promotion here is reported to onPromoted, numbered above an adopted version; switching off cancels", async () => {
    const t = trainer();
    const promoted: Array<{ version: number; info: ArtifactInfo }> = [];
    const rt = new ModelRuntime({ spec, retrain: 'off', trainer: t.factory, onPromoted: (w, info) => promoted.push({ version: w.version, info }) });
    rt.step(steps.slice(0, 300));
    await settle();
    expect(t.requests).toHaveLength(0);
    rt.adopt(weights(1, 6));
    rt.setRetrain('background');
    expect(rt.retrainMode).toBe('background');
    rt.step(steps.slice(300, 301));
    await settle();
    expect(t.requests).toHaveLength(1);
    expect(promoted.map((p) => p.version)).toEqual([7]);
    expect(promoted[0]!.info.backend).toBe('fake');
    expect(rt.step(steps.slice(301, 302))[0]!.model.version).toBe(7);
    rt.setRetrain('off');
    expect(t.cancels()).toBe(1);
    rt.step(steps.slice(302, 400)); // past retrain.every: would retrain if on
    await settle();
    expect(t.requests).toHaveLength(1);
    await rt.close();
  });
});
