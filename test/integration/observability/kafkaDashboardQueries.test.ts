import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithCommand } from '../../helpers/commands.js';
import { loadDashboards, queriesOf, substitute, type Query } from '../../helpers/dashboards.js';
import { freePort } from '../../helpers/freePort.js';
import { samples, startPrometheus, stopChild, type PrivatePrometheus } from '../../helpers/prometheus.js';
import { describeWithKafka, requireKafkaBrokers } from '../../helpers/services.js';
import { createTopic, points, readyz, specTopics, startProduce, startRun, testKafka, waitFor, writePoints, writeSpec, type RunningCli } from '../kafka/harness.js';

/**
 * `streamcast run` on a real broker, fed by `streamcast produce`, scraped by a real Prometheus
 * (1 s scrapes): the panels only Kafka mode fills (see KAFKA_ONLY_PANELS in
 * dashboardQueries.test.ts and docs/operations.md) return finite values, and live accuracy and
 * readiness reach /metrics in Kafka mode too.
 */

const KAFKA_PANELS = ['Consumer lag (Kafka mode)', 'Event-to-forecast latency p50 / p99', 'State restore / checkpoint duration p99'];
const SERIES = ['host-1.cpu', 'host-2.cpu', 'db.load'];
// 3 series × 200 steps at 40 records/s: about 15 s of live input, so rates have several scrapes.
const STEPS = 200;
const RATE = 40;

describeWithKafka('Kafka mode against a real Prometheus', () => {
  describeWithCommand('prometheus', 'apt-get install -y --no-install-recommends prometheus (.ci/run does)', 'streamcast run scraped by Prometheus: Kafka-only panels, live accuracy, readiness', () => {
    const t = specTopics('prom');
    // The whole test stays well inside one minute, so a 1m rate window still holds the restore.
    const variables = { pipeline: t.name, __rate_interval: '1m', __interval: '15s' };
    let prom: PrivatePrometheus | undefined;
    let run: RunningCli | undefined;
    let other: RunningCli | undefined;
    let produced: Promise<{ code: number | null; stderr: string }> | undefined;

    const kafkaQueries: Query[] = [...loadDashboards()].flatMap(([file, d]) => queriesOf(file, d).filter((q) => q.kind === 'prometheus' && KAFKA_PANELS.includes(q.panel)));
    const liveQueries = [
      `streamcast_ready{pipeline="${t.name}"} == 1`,
      `streamcast_forecast_scored_total{pipeline="${t.name}", model="baseline", horizon="1"} > 0`,
      `streamcast_forecast_abs_error_total{pipeline="${t.name}", model="baseline", horizon="3"} > 0`,
      `streamcast_interval_coverage_scored_total{pipeline="${t.name}"} > 0`,
    ];
    const finite = (expr: string) => async () => {
      const r = await prom!.query(expr);
      const values = samples(r).map((s) => Number(s.value?.[1]));
      return r.status === 'success' && values.length > 0 && values.every(Number.isFinite) ? values : undefined;
    };

    beforeAll(async () => {
      const brokers = requireKafkaBrokers();
      await createTopic(testKafka(brokers), t.input, 2);
      const spec = writeSpec(t);
      const port = await freePort();
      prom = await startPrometheus({ targets: [`127.0.0.1:${port}`] });
      // A restore right after start can fall before the first scrape, and rate() then has no
      // increase to see. So a second, unscraped member holds half the partitions and leaves once
      // Prometheus has seen the scraped one ready: its partitions move over and are restored
      // (from a changelog that now has state) while Prometheus watches, as in a scale-in.
      other = startRun(spec, brokers.join(','));
      await waitFor(async () => (await readyz(await other!.port())) === 200, 30_000, 'the second member to be ready');
      produced = startProduce(brokers.join(','), t.input, writePoints(points(SERIES, 0, STEPS)), RATE);
      run = startRun(spec, brokers.join(','), {}, ['--port', String(port)]);
      await waitFor(async () => (await finite(`streamcast_ready{pipeline="${t.name}"} == 1`)()) !== undefined, 30_000, 'Prometheus to see the scraped member ready');
      other.child.kill('SIGTERM');
      const pending = new Set([...kafkaQueries.map((q) => substitute(q.text, variables)), ...liveQueries]);
      await waitFor(
        async () => {
          for (const expr of [...pending]) if ((await finite(expr)()) !== undefined) pending.delete(expr);
          return pending.size === 0;
        },
        45_000,
        'every Kafka-only panel and live accuracy to have finite values in Prometheus',
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}; still empty or NaN: ${[...pending].join(' | ')}\nstreamcast: ${run?.stderr().slice(-2000) ?? ''}\nprometheus: ${prom?.log() ?? ''}`);
      });
    }, 90_000);

    afterAll(async () => {
      await stopChild(other?.child, 20_000);
      await stopChild(run?.child, 20_000);
      await prom?.stop();
    });

    it('the member that left did so cleanly', async () => {
      expect(await other!.exited, other!.stderr().slice(-2000)).toEqual({ code: 0, signal: null });
    });

    it('the data set was produced without error', async () => {
      const r = await produced!;
      expect(r.code, r.stderr).toBe(0);
    });

    it('has Kafka-only panels to check', () => {
      expect(new Set(kafkaQueries.map((q) => q.panel))).toEqual(new Set(KAFKA_PANELS));
    });

    for (const q of kafkaQueries) {
      it(`${q.dashboard} / ${q.panel} / ${q.refId} returns finite values in Kafka mode`, async () => {
        const expr = substitute(q.text, variables);
        expect(expr).not.toMatch(/\$/);
        const values = await finite(expr)();
        expect(values, expr).toBeDefined();
        expect(values!.length).toBeGreaterThan(0);
      });
    }

    it('consumer lag is reported by input topic and partition', async () => {
      const r = await prom!.query(`streamcast_consumer_lag{pipeline="${t.name}"}`);
      // Partitions that got no records (the keys may all hash to one) have no lag series yet.
      const seen = samples(r).map((s) => `${s.metric['topic']}/${s.metric['partition']}`);
      expect(seen.length).toBeGreaterThan(0);
      for (const x of seen) expect([`${t.input}/0`, `${t.input}/1`]).toContain(x);
    });

    it('live accuracy and readiness reach /metrics in Kafka mode', async () => {
      for (const expr of liveQueries) expect(await finite(expr)(), expr).toBeDefined();
      const coverage = await finite(`streamcast_interval_coverage_hits_total{pipeline="${t.name}"} <= streamcast_interval_coverage_scored_total{pipeline="${t.name}"}`)();
      expect(coverage).toBeDefined();
    });
  });
});
