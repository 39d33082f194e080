import { z } from 'zod';
import { CODEC_NAMES } from '../codecs/codec.js';
import { parseDuration } from '../domain/duration.js';
import { TIME_FEATURES } from '../domain/timeFeatures.js';

/** A duration written as `30s`, `5m`, `2h`, `1d`, `1w`; parsed to milliseconds. */
/** Longest model.lags season in steps (a week of 5-minute steps: bounds each series' lag ring). */
export const MAX_MODEL_LAG_STEPS = 2016;
/** Hidden units of a model in all, its members together: bounds its weights (12 MB at 1024) and model frames. */
export const MAX_MODEL_UNITS = 1024;

const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `"${text}" is not a duration: write a positive number and a unit, e.g. 30s, 5m, 2h, 1d, 1w`,
    });
    return z.NEVER;
  }
  return ms;
});

const topicName = z
  .string()
  .regex(/^[a-zA-Z0-9._-]{1,249}$/, 'a Kafka topic name: 1-249 characters of a-z A-Z 0-9 . _ -');

const quantileLevel = z.number().gt(0, 'a quantile level is in (0, 1)').lt(1, 'a quantile level is in (0, 1)');

export const AGGREGATES = ['mean', 'last', 'sum', 'max', 'min'] as const;
export type Aggregate = (typeof AGGREGATES)[number];
/** Which points step k·step aggregates: [k·step, (k+1)·step) (`start`) or [k·step − step/2, k·step + step/2) (`centre`). */
export const ALIGNS = ['start', 'centre'] as const;
export type Align = (typeof ALIGNS)[number];
/** How `impute.strategy` fills missing steps; README "Pipeline spec" says what each does. */
export const IMPUTE_STRATEGIES = ['ffill', 'linear', 'seasonal', 'zero'] as const;
export type ImputeStrategy = (typeof IMPUTE_STRATEGIES)[number];

/**
 * `model` was documented as "the GRU's own prediction", but no command ever handed the imputer a
 * model, so it always filled gaps as `seasonal` does. A spec that still names it is told so
 * rather than silently given something else.
 */
const REMOVED_IMPUTE_STRATEGIES: Readonly<Record<string, string>> = {
  model:
    "'model' was removed: it never used the model (no command passed one to the imputer) and filled gaps as 'seasonal' does; " +
    `write 'seasonal' for the same forecasts (strategies: ${IMPUTE_STRATEGIES.join(', ')})`,
};

/**
 * 3, not 2: an at-least-once producer that retries writes one bad reading twice, and two
 * agreeing points were all it took for one skewed clock to move a series a year ahead. Each one
 * more delays a genuine jump (a series back from an outage) by one point, held, not lost.
 */
export const DEFAULT_JUMP_CONFIRM = 3;
/** Each point of a genuine jump waits, held, until this many agree: more would hold too much. */
export const MAX_JUMP_CONFIRM = 100;

export const pipelineSpecSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and dashes, starting with a letter or digit'),
    input: z
      .object({
        topic: topicName,
        codec: z.enum(CODEC_NAMES).prefault('json'),
      })
      .strict(),
    output: z.object({ topic: topicName }).strict(),
    deadLetter: z.object({ topic: topicName }).strict().prefault({ topic: 'streamcast.dlq' }),
    window: z
      .object({
        step: duration,
        aggregate: z.enum(AGGREGATES).prefault('mean'),
        /**
         * `centre` for a series that sends about one point per step near the grid with a jittery
         * clock (12:04:58, 12:10:03): each point then lands in the step it is nearest. Under
         * `start` (the default) such points straddle the step boundaries and steps come out empty
         * or doubled.
         */
        align: z.enum(ALIGNS).prefault('start'),
        lateness: duration.optional(),
        idleClose: duration.optional(),
        /**
         * How far past a series' watermark one record may jump before it needs a second record
         * to confirm it (guards against a single future-stamped record).
         */
        maxJump: duration.prefault('1d'),
        /**
         * How many agreeing points in a row confirm a jump past maxJump (ahead), or re-base a
         * series onto points that far behind its watermark. Default: see DEFAULT_JUMP_CONFIRM.
         */
        jumpConfirm: z
          .number({ error: 'window.jumpConfirm is a whole number of points, e.g. 3' })
          .int('window.jumpConfirm is a whole number of points, e.g. 3')
          .min(2, 'window.jumpConfirm must be at least 2: a jump that its own point confirms guards nothing (write 2 to accept a jump on the second point)')
          .max(MAX_JUMP_CONFIRM, `window.jumpConfirm must be at most ${MAX_JUMP_CONFIRM}: each point of a genuine jump waits, held, until that many agree`)
          .prefault(DEFAULT_JUMP_CONFIRM),
      })
      .strict(),
    impute: z
      .object({
        strategy: z
          .enum(IMPUTE_STRATEGIES, {
            error: (issue) => (typeof issue.input === 'string' ? REMOVED_IMPUTE_STRATEGIES[issue.input] : undefined),
          })
          .prefault('ffill'),
        maxGap: duration.prefault('1d'),
        /** The season of the `seasonal` strategy; defaults to the baseline's season. */
        season: duration.optional(),
      })
      .strict()
      .prefault({ strategy: 'ffill', maxGap: '1d' }),
    normalize: z
      .object({
        method: z.enum(['zscore']).prefault('zscore'),
        halfLife: duration.prefault('1d'),
      })
      .strict()
      .prefault({ method: 'zscore', halfLife: '1d' }),
    model: z
      .object({
        type: z.enum(['gru', 'baseline']).prefault('gru'),
        hidden: z.number().int().min(1).max(MAX_MODEL_UNITS).prefault(64),
        /**
         * GRUs of `hidden` units trained apart from different seeds, whose forecasts are averaged
         * (served as one model of members × hidden units whose members do not see each other:
         * gruWeights.ts' mergeGruMembers). Each costs one more training and one more GRU step per
         * series and step.
         */
        members: z.number().int().min(1).max(8).prefault(2),
        context: z.number().int().min(2).max(10_000).prefault(96),
        horizon: z.number().int().min(1).max(1000).prefault(12),
        quantiles: z
          .array(quantileLevel)
          .min(1)
          .prefault([0.1, 0.5, 0.9])
          .refine((qs) => qs.every((q, i) => i === 0 || q > qs[i - 1]!), 'list quantiles in increasing order without repeats'),
        timeFeatures: z.array(z.enum(TIME_FEATURES)).prefault(['hourOfDay', 'dayOfWeek']),
        /** Also feed the step's change (first difference of the normalized value) to the GRU. */
        diff: z.boolean().prefault(false),
        /**
         * Seasonal-lag inputs (featureLayout.ts): `auto` those of one day, one week (wherever the
         * step divides them) and the baseline's season whose seasonal naive beats the last value
         * on the history at the first training; `none`; or a list of seasons such as [1d, 1w].
         */
        lags: z.union([z.enum(['auto', 'none']), z.array(duration).min(1, 'list at least one season, e.g. [1d, 1w], or write none')]).prefault('auto'),
      })
      .strict(),
    baseline: z
      .object({
        type: z.enum(['seasonal-naive', 'last-value']).prefault('seasonal-naive'),
        season: duration.prefault('1d'),
      })
      .strict()
      .prefault({ type: 'seasonal-naive', season: '1d' }),
    retrain: z
      .object({
        every: duration.prefault('1h'),
        minHistory: z.number().int().min(1).prefault(500),
        epochs: z.number().int().min(1).max(1000).prefault(5),
        promote: z
          .object({ mustBeat: z.enum(['baseline', 'current', 'both']).prefault('both') })
          .strict()
          .prefault({ mustBeat: 'both' }),
      })
      .strict()
      .prefault({ every: '1h', minHistory: 500, epochs: 5, promote: { mustBeat: 'both' } }),
    // maxWait: every step of a live stream waits up to this long for company. 10 ms rather than
    // 20 ms took 8-10 ms off the median and about 15 ms off the p99 latency at 15k points/s
    // (bench/kafkaThroughput.ts); a backlog fills batches to maxSize before either elapses.
    batch: z
      .object({
        maxSize: z.number().int().min(1).max(100_000).prefault(1024),
        maxWait: duration.prefault('10ms'),
      })
      .strict()
      .prefault({ maxSize: 1024, maxWait: '10ms' }),
    guarantee: z.enum(['exactly-once', 'at-least-once']).prefault('at-least-once'),
    /**
     * Bounds on the per-series state one instance keeps (src/state/seriesStateStore.ts): at most
     * `maxSeries` series (the least recently seen is evicted for a new one), and a series with no
     * point for `ttl` (clock time) is expired. Both unset: unbounded, as before.
     */
    state: z
      .object({
        maxSeries: z
          .number({ message: 'state.maxSeries is a whole number of series, e.g. 500000' })
          .int('state.maxSeries is a whole number of series, e.g. 500000')
          .min(1, 'state.maxSeries must be at least 1 (leave it out for no cap)')
          .optional(),
        ttl: duration.optional(),
      })
      .strict()
      .prefault({}),
    /** Backtest reports: the series shown first (e.g. ETTh1's `OT`); default the first series seen. */
    report: z.object({ target: z.string().min(1, 'a series id, e.g. OT').optional() }).strict().optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const step = spec.window.step;
    const multiple = (path: (string | number)[], ms: number, what: string) => {
      if (ms % step !== 0) {
        ctx.addIssue({ code: 'custom', path, message: `${what} must be a whole number of steps (window.step = ${step} ms)` });
      }
    };
    multiple(['baseline', 'season'], spec.baseline.season, 'baseline.season');
    if (spec.impute.season !== undefined) multiple(['impute', 'season'], spec.impute.season, 'impute.season');
    if (spec.model.hidden * spec.model.members > MAX_MODEL_UNITS) {
      // The members are stored and sent as one GRU of hidden × members units (gruMembers.ts).
      ctx.addIssue({ code: 'custom', path: ['model', 'members'], message: `model.hidden × model.members is ${spec.model.hidden * spec.model.members}; at most ${MAX_MODEL_UNITS} units in all (e.g. hidden: 64 with members: 2)` });
    }
    if (Array.isArray(spec.model.lags)) {
      spec.model.lags.forEach((ms, i) => {
        if (ms % step !== 0 || ms / step < 2 || ms / step > MAX_MODEL_LAG_STEPS) {
          ctx.addIssue({ code: 'custom', path: ['model', 'lags', i], message: `each model.lags season must be a whole number of steps from 2 to ${MAX_MODEL_LAG_STEPS} (window.step = ${step} ms), e.g. [1d, 1w]; or write auto or none` });
        }
      });
    }
    if (spec.window.maxJump < step) {
      ctx.addIssue({ code: 'custom', path: ['window', 'maxJump'], message: 'window.maxJump must be at least one window.step (a sparse series would otherwise look like a jump at every step)' });
    }
    if (spec.state.ttl !== undefined && spec.state.ttl < (spec.window.idleClose ?? 5 * step)) {
      ctx.addIssue({
        code: 'custom',
        path: ['state', 'ttl'],
        message: 'state.ttl must be at least window.idleClose (default 5 steps): a series would otherwise be expired before its last step is closed and forecast',
      });
    }
    if (spec.impute.maxGap < step) {
      ctx.addIssue({ code: 'custom', path: ['impute', 'maxGap'], message: 'impute.maxGap must be at least one window.step' });
    }
  });

type RawSpec = z.output<typeof pipelineSpecSchema>;

/** A validated pipeline spec with every duration in milliseconds and every default applied. */
export interface PipelineSpec extends Omit<RawSpec, 'window' | 'impute'> {
  readonly window: RawSpec['window'] & { readonly lateness: number; readonly idleClose: number };
  readonly impute: RawSpec['impute'] & { readonly season: number };
}
