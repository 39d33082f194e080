import { request } from 'node:http';
import { Writable } from 'node:stream';
import { Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/domain/errors.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics, metricsListener } from '../../../src/observability/metrics.js';
import { HttpServer, type HttpServerOptions } from '../../../src/runtime/httpServer.js';

const silent = createLogger({
  level: 'silent',
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});

const servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

function make(over: Partial<HttpServerOptions> = {}) {
  const registry = new Registry();
  const listen = metricsListener(createMetrics(registry, { pipeline: 'cpu-load' }));
  const state = { live: true, ready: false, reason: 'restoring state of 3 partitions' as string | undefined };
  const series = new Map<string, unknown>([['host-1/cpu load', { series: 'host-1/cpu load', ts: 1 }]]);
  const server = new HttpServer({
    port: 0,
    registry,
    logger: silent,
    health: () => (state.live ? { live: true } : { live: false, reason: 'cpu-load: no record processed for 120 s while 42 wait' }),
    readiness: () => (state.reason === undefined ? { ready: state.ready } : { ready: state.ready, reason: state.reason }),
    seriesLookup: (id) => series.get(id),
    ...over,
  });
  servers.push(server);
  return { server, registry, listen, state };
}

const url = (s: HttpServer, path: string) => `http://127.0.0.1:${s.port}${path}`;

describe('HttpServer', () => {
  it('serves /metrics as Prometheus text with the registry content type', async () => {
    const { server, listen } = make();
    await server.start();
    listen({ type: 'records_in', count: 7 });
    const res = await fetch(url(server, '/metrics'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await res.text()).toContain('streamcast_records_in_total{pipeline="cpu-load"} 7');
  });

  it('answers /healthz with 200 {"status":"ok"} while live, 503 with the reason otherwise', async () => {
    const { server, state } = make();
    await server.start();
    let res = await fetch(url(server, '/healthz'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ status: 'ok' });
    state.live = false;
    res = await fetch(url(server, '/healthz'));
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'unhealthy', reason: 'cpu-load: no record processed for 120 s while 42 wait' });
  });

  it('answers /readyz 503 with the reason until ready, then 200', async () => {
    const { server, state } = make();
    await server.start();
    let res = await fetch(url(server, '/readyz'));
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'not ready', reason: 'restoring state of 3 partitions' });
    state.ready = true;
    state.reason = undefined;
    res = await fetch(url(server, '/readyz?verbose=1'));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready' });
  });

  it('adds the readiness detail (the compute backends) to /readyz whether ready or not', async () => {
    const backends = { serve: 'wasm', train: 'tensorflow', requested: { serve: 'auto', train: 'auto' } };
    const { server, state } = make({ readyDetail: () => ({ backends }) });
    await server.start();
    let res = await fetch(url(server, '/readyz'));
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'not ready', reason: 'restoring state of 3 partitions', backends });
    state.ready = true;
    state.reason = undefined;
    res = await fetch(url(server, '/readyz'));
    expect(await res.json()).toEqual({ status: 'ready', backends });
  });

  it('looks series up by URL-decoded id; 404 for an unknown one, 400 for bad encoding', async () => {
    const { server } = make();
    await server.start();
    let res = await fetch(url(server, `/series/${encodeURIComponent('host-1/cpu load')}`));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ series: 'host-1/cpu load', ts: 1 });
    res = await fetch(url(server, '/series/nope'));
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'unknown series' });
    res = await fetch(url(server, '/series/%E0%A4%A'));
    expect(res.status).toBe(400);
  });

  it('404s unknown paths and 405s other methods on known ones', async () => {
    const { server } = make();
    await server.start();
    expect((await fetch(url(server, '/'))).status).toBe(404);
    expect((await fetch(url(server, '/metricsx'))).status).toBe(404);
    expect((await fetch(url(server, '/series/'))).status).toBe(404);
    const post = await fetch(url(server, '/metrics'), { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(url(server, '/healthz'), { method: 'DELETE' })).status).toBe(405);
    expect((await fetch(url(server, '/healthz'), { method: 'HEAD' })).status).toBe(200);
  });

  it('answers 500 and keeps serving when a callback throws', async () => {
    const { server } = make({
      seriesLookup: () => {
        throw new Error('state store closed');
      },
    });
    await server.start();
    const res = await fetch(url(server, '/series/a'));
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'internal error' });
    expect((await fetch(url(server, '/healthz'))).status).toBe(200);
  });

  it('has idempotent start and stop; concurrent stops share one promise', async () => {
    const { server } = make();
    const a = server.start();
    expect(server.start()).toBe(a);
    await a;
    const port = server.port;
    expect(port).toBeGreaterThan(0);
    const s1 = server.stop();
    const s2 = server.stop();
    expect(s2).toBe(s1);
    await s1;
    await server.stop();
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    await expect(server.start()).rejects.toThrow(/cannot be restarted/);
  });

  it('stops promptly although a client holds a keep-alive connection', async () => {
    const { server } = make();
    await server.start();
    const agent = new (await import('node:http')).Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      request(url(server, '/healthz'), { agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
        .on('error', reject)
        .end();
    });
    const t0 = performance.now();
    await server.stop();
    // Without closing idle sockets, close() waits for the 5 s keep-alive timeout.
    expect(performance.now() - t0).toBeLessThan(1000);
    agent.destroy();
  });

  it('stops promptly while a scrape is still in flight', async () => {
    const registry = new Registry();
    new Gauge({ name: 'streamcast_test_stuck', help: 'collect never finishes', registers: [registry], collect: () => new Promise<void>(() => {}) });
    const { server } = make({ registry });
    await server.start();
    const scrape = fetch(url(server, '/metrics')).then(
      () => 'answered',
      () => 'aborted',
    );
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    await server.stop();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await scrape).toBe('aborted');
  });

  it('stop before start resolves; stop during start waits for it', async () => {
    const { server: never } = make();
    await never.stop();
    const { server } = make();
    const started = server.start();
    await server.stop();
    await started;
    expect(() => server.port).not.toThrow();
  });

  it('rejects a port in use with a ConfigError that says what to do', async () => {
    const { server: first } = make();
    await first.start();
    const { server: second } = make({ port: first.port });
    const err = await second.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as Error).message)).toMatch(/already in use.*0 for any free one/);
  });

  it('rejects an invalid port at construction', () => {
    expect(() => make({ port: 70000 })).toThrow(ConfigError);
  });
});
