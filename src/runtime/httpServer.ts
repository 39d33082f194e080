import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ConfigError, StreamcastError } from '../domain/errors.js';
import type { LogSink } from '../observability/logger.js';

export interface HttpServerOptions {
  /** Default 9464; 0 picks a free port (read it from `port` after start()). */
  readonly port?: number;
  /** Default 127.0.0.1; set 0.0.0.0 where Prometheus scrapes from another host (containers). */
  readonly host?: string;
  readonly registry: Registry;
  readonly health: () => { live: boolean; reason?: string };
  readonly readiness: () => { ready: boolean; reason?: string };
  /** Extra fields of every /readyz answer, e.g. the compute backends serving and training run on. */
  readonly readyDetail?: () => Record<string, unknown>;
  /** The latest forecast and state summary of a series, or undefined if it is unknown. */
  readonly seriesLookup: (id: string) => unknown | undefined;
  readonly logger: LogSink;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const SERIES_PREFIX = '/series/';

/**
 * The one HTTP port of DESIGN.md: /metrics, /healthz, /readyz, /series/:id. GET and HEAD only.
 * Lifecycle: start() and stop() are idempotent; concurrent callers share one promise; a stopped
 * server cannot be started again (make a new one).
 */
export class HttpServer {
  private readonly server: Server;
  private readonly port0: number;
  private readonly host: string;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private bound: AddressInfo | undefined;

  constructor(private readonly opts: HttpServerOptions) {
    const port = opts.port ?? 9464;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ConfigError(`HTTP port ${port} is not a port number; use 1-65535, or 0 for any free port`);
    }
    this.port0 = port;
    this.host = opts.host ?? '127.0.0.1';
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => this.fail(res, req, err));
    });
  }

  /** The port actually bound (useful with port 0). Throws before start() has resolved. */
  get port(): number {
    if (this.bound === undefined) throw new StreamcastError('fatal', 'HttpServer.port read before start() resolved');
    return this.bound.port;
  }

  start(): Promise<void> {
    if (this.stopping !== undefined) {
      return Promise.reject(new StreamcastError('fatal', 'HttpServer cannot be restarted after stop(); create a new one'));
    }
    this.starting ??= this.listen().catch((err: unknown) => {
      this.starting = undefined; // a failed start may be retried, e.g. once the port is free
      throw err;
    });
    return this.starting;
  }

  stop(): Promise<void> {
    this.stopping ??= this.close();
    return this.stopping;
  }

  private listen(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        this.server.off('listening', onListening);
        if (err.code === 'EADDRINUSE') {
          reject(
            new ConfigError(
              `HTTP port ${this.port0} on ${this.host} is already in use (another streamcast?); choose another port, or 0 for any free one`,
              { cause: err },
            ),
          );
        } else reject(new StreamcastError('fatal', `HTTP server could not listen on ${this.host}:${this.port0}: ${err.message}`, { cause: err }));
      };
      const onListening = () => {
        this.server.off('error', onError);
        this.bound = this.server.address() as AddressInfo;
        this.server.on('error', (err) => this.opts.logger.error({ err }, 'HTTP server error'));
        this.opts.logger.info({ host: this.host, port: this.bound.port }, `HTTP endpoints on http://${this.host}:${this.bound.port}`);
        resolve();
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen(this.port0, this.host);
    });
  }

  private async close(): Promise<void> {
    if (this.starting !== undefined) {
      try {
        await this.starting;
      } catch (err) {
        // It never listened, so there is nothing to close; start() already reported the failure.
        this.opts.logger.debug({ err }, 'HTTP server stopped after a failed start');
        return;
      }
    }
    if (!this.server.listening) return;
    await new Promise<void>((resolve, reject) => {
      this.server.close((err) => (err ? reject(err) : resolve()));
      // close() alone waits for keep-alive sockets (Prometheus keeps one open) to time out.
      this.server.closeAllConnections();
    });
    this.opts.logger.info('HTTP endpoints stopped');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const route = matchRoute(path);
    if (route === undefined) return sendJson(res, 404, { error: 'not found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'method not allowed' });
    }
    switch (route.kind) {
      case 'metrics': {
        const body = await this.opts.registry.metrics();
        return send(res, 200, this.opts.registry.contentType, body);
      }
      case 'healthz': {
        const h = this.opts.health();
        if (h.live) return sendJson(res, 200, { status: 'ok' });
        return sendJson(res, 503, { status: 'unhealthy', ...(h.reason !== undefined ? { reason: h.reason } : {}) });
      }
      case 'readyz': {
        const r = this.opts.readiness();
        const detail = this.opts.readyDetail?.() ?? {};
        if (r.ready) return sendJson(res, 200, { status: 'ready', ...detail });
        return sendJson(res, 503, { status: 'not ready', ...(r.reason !== undefined ? { reason: r.reason } : {}), ...detail });
      }
      case 'series': {
        let id: string;
        try {
          id = decodeURIComponent(route.encodedId);
        } catch (err) {
          if (err instanceof URIError) return sendJson(res, 400, { error: 'malformed percent-encoding in series id' });
          throw err;
        }
        const found = this.opts.seriesLookup(id);
        return found === undefined ? sendJson(res, 404, { error: 'unknown series' }) : sendJson(res, 200, found);
      }
    }
  }

  private fail(res: ServerResponse, req: IncomingMessage, err: unknown): void {
    this.opts.logger.error({ err, url: req.url }, 'HTTP handler failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendJson(res, 500, { error: 'internal error' });
  }
}

type Route = { kind: 'metrics' | 'healthz' | 'readyz' } | { kind: 'series'; encodedId: string };

function matchRoute(path: string): Route | undefined {
  switch (path) {
    case '/metrics':
      return { kind: 'metrics' };
    case '/healthz':
      return { kind: 'healthz' };
    case '/readyz':
      return { kind: 'readyz' };
  }
  // Everything after the prefix is the id, so ids containing "/" work encoded or not.
  if (path.startsWith(SERIES_PREFIX) && path.length > SERIES_PREFIX.length) {
    return { kind: 'series', encodedId: path.slice(SERIES_PREFIX.length) };
  }
  return undefined;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, JSON_TYPE, JSON.stringify(body));
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}
