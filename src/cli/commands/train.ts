import { cliLogger, type LogFlags } from '../cliLogger.js';
import { ConfigError } from '../../domain/errors.js';
import { loadSpec } from '../../spec/loadSpec.js';
import { describeBackends, startComputeBackends } from '../../app/computeBackends.js';
import { describeRun, signalExitCode } from '../../app/replayRun.js';
import { runTraining, TRAIN_HISTORY_STEPS, TRAIN_VAL_FRACTION } from '../../app/trainRun.js';
import { requireInputFiles } from '../options.js';
import { createProgress } from '../progress.js';

export interface TrainFlags extends LogFlags {
  input: string[];
  epochs?: number;
  /** Models folder (default `models`). */
  out?: string;
  quiet?: boolean;
  /** Steps of history kept per series (default 20000: the newest ones train). */
  history?: number;
  seed?: number;
  /** Point `current` at the new model even when it does not beat the bar. */
  force?: boolean;
  /** Held-out newest fraction of each series (default 0.15). */
  valFraction?: number;
  /** `--backend` (serving: the replay and calibration on this thread). */
  backend?: string;
  /** `--train-backend` (the trainer worker; default as --backend, else auto). */
  trainBackend?: string;
}


/**
 * `streamcast train <spec> -i <file>…`: replays the files through the pipeline (resample, impute,
 * normalize exactly as serving does) into the pipeline's model runtime, which keeps each series'
 * newest steps, then runs one retrain exactly as a scheduled one in `run` would (residual base,
 * trainer worker with a progress bar — Ctrl-C cancels and writes nothing —, promotion gate,
 * held-out calibration) and writes the artifact under <out>/<pipeline>/<version>/, pointing
 * `current` at it, when it beats the spec's retrain.promote.mustBeat bar on the held-out tail (or
 * with --force). Prints the validation losses (mean pinball per cell and level, normalized units)
 * of the new model, the untrained one, the model in service and the baselines.
 */
export async function trainCommand(specPath: string, flags: TrainFlags): Promise<number> {
  const logger = cliLogger(flags);
  const backends = await startComputeBackends(flags);
  const modelsDir = flags.out ?? 'models';
  const valFraction = flags.valFraction ?? TRAIN_VAL_FRACTION;
  const spec = loadSpec(specPath);
  if (spec.model.type !== 'gru') {
    throw new ConfigError(`pipeline "${spec.name}" has model.type ${spec.model.type}; train needs model.type gru`);
  }
  let progress: ReturnType<typeof createProgress> | undefined;
  let lastDetail: Record<string, string | number> = {};
  let result;
  try {
    result = await runTraining(spec, { paths: requireInputFiles(flags.input) }, {
      models: modelsDir,
      valFraction,
      historySteps: flags.history ?? TRAIN_HISTORY_STEPS,
      epochs: flags.epochs,
      seed: flags.seed,
      force: flags.force,
      trainBackend: backends.config.train,
      logger,
      replayProgress: createProgress('replay', { quiet: flags.quiet }),
      // The worker starts before the replay, so a training backend that is missing fails at once.
      onTrainerStarted: (trainOn) => {
        if (!flags.quiet) process.stderr.write(`compute backends: ${describeBackends(backends, trainOn)}\n`);
      },
      onReplayed: (stats, elapsedMs) => {
        if (!flags.quiet) process.stderr.write(`replayed: ${describeRun(stats, elapsedMs)}\n`);
        progress = createProgress('train', { quiet: flags.quiet });
      },
      onTrainProgress: (p) => {
        if (p.report) lastDetail = { epoch: `${p.report.epoch}/${p.report.epochs}`, train: p.report.trainLoss.toFixed(4), val: p.report.valLoss?.toFixed(4) ?? '-' };
        progress?.update(p.fraction, lastDetail);
      },
    });
  } finally {
    progress?.stop();
  }
  if (result.outcome === 'cancelled') {
    process.stderr.write(result.during === 'replay' ? 'train: cancelled while reading the input; nothing written\n' : 'train: cancelled; nothing written\n');
    return result.signal !== undefined ? signalExitCode(result.signal) : 130;
  }
  const { report } = result;
  if (report.outcome === 'skipped' || report.outcome === 'failed') {
    throw new ConfigError(`no model trained: ${report.reason}; train needs more than ${spec.model.horizon + 1} consecutive steps per series (retrain.minHistory is ${spec.retrain.minHistory})`);
  }
  const f = (x: number | undefined): string => (x === undefined ? 'n/a' : x.toFixed(4));
  const lines = [
    report.outcome === 'promoted'
      ? `model ${spec.name} v${report.version} written to ${modelsDir}/${spec.name}/${report.version} (${report.epochs} epochs, best ${report.bestEpoch}, ${((report.durationMs ?? 0) / 1000).toFixed(1)} s on ${report.backend}; base ${report.base})`
      : `model ${spec.name} not written (${report.epochs} epochs, ${((report.durationMs ?? 0) / 1000).toFixed(1)} s on ${report.backend}; base ${report.base})`,
    `validation loss (mean pinball, normalized units, ${report.validationCells} held-out cells): model ${f(report.valLoss)}, untrained ${f(report.initialValLoss)}, current ${f(report.currentValLoss)}, best baseline ${f(report.baselineLoss)}`,
    `${report.outcome === 'promoted' ? 'promoted' : 'not promoted'}: ${report.reason}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
