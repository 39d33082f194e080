import type { DeadLetter } from '../../domain/deadLetter.js';
import type { Forecast } from '../../domain/forecast.js';
import type { Sink } from '../../connectors/sink.js';
import { DiscardSink } from '../../connectors/memory/discardSink.js';
import { JsonlFileSink } from '../../connectors/replay/jsonlFileSink.js';
import { JsonlSink } from '../../connectors/stdout/jsonlSink.js';
import { encodeForecast } from '../../codecs/forecastJson.js';
import { loadSpec } from '../../spec/loadSpec.js';
import { createLiveObservers } from '../../runtime/liveObservers.js';
import { fileCommandBackends } from '../../app/computeBackends.js';
import { buildReplayRun, describeRun, runReplay, signalExitCode } from '../../app/replayRun.js';
import { createProgress } from '../progress.js';
import { cliLogger } from '../cliLogger.js';
import { replayInputFrom, type ReplayFlags } from '../replayFlags.js';

/**
 * `streamcast replay <spec> --input <file>…`: the pipeline over files, forecasts as JSON lines (stdout or --out),
 * the `current` model from --model (default models/) serving, retraining only with --retrain (blocking).
 */
export async function replayCommand(specPath: string, flags: ReplayFlags): Promise<number> {
  const backends = await fileCommandBackends(flags);
  const logger = cliLogger(flags);
  const run = buildReplayRun(loadSpec(specPath), replayInputFrom(flags), {
    models: flags.model ?? 'models',
    retrain: flags.retrain === true ? 'blocking' : 'off',
    logger,
    trainBackend: backends.config.train,
  });
  await backends.started(run.retrainer, flags.retrain === true && run.spec.model.type === 'gru');
  const forecasts: Sink<Forecast> = flags.out ? new JsonlFileSink<Forecast>(flags.out, { serialize: encodeForecast }) : new JsonlSink<Forecast>(process.stdout, { serialize: encodeForecast });
  const deadLetters: Sink<DeadLetter> = flags.deadLetters ? new JsonlFileSink<DeadLetter>(flags.deadLetters) : new DiscardSink<DeadLetter>();
  // Without a metrics registry: live accuracy is computed for the InfluxDB history alone.
  const observers = flags.influx ? createLiveObservers({ spec: run.spec, events: run.stats.listener, logger, influxUrl: flags.influx }) : undefined;
  const { elapsedMs, stoppedEarly, signal } = await runReplay(
    run,
    { forecasts, deadLetters },
    { progress: createProgress('replay', { quiet: flags.quiet }), stopProgress: true, ...(observers ? { onBatch: observers.onBatch } : {}) },
  );
  const history = await observers?.close();
  process.stderr.write(`${stoppedEarly ? 'stopped: ' : 'done: '}${describeRun(run.stats, elapsedMs)}\n`);
  if (history) process.stderr.write(`InfluxDB history: ${history.written} points written, ${history.dropped} dropped\n`);
  return signal === undefined ? 0 : signalExitCode(signal);
}
