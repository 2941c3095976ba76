/**
 * The daemon's one small HTTP listener: `GET /healthz` for container health checks and
 * `GET /metrics` for Prometheus. It knows nothing about how health is judged or where metrics come
 * from: it is handed a `health()` and a `metrics()` callback and only turns their answers into
 * responses, so a probe never blocks or crashes the scheduler. The daemon runs it in the heartbeat
 * thread (heartbeatWorker.ts), so it answers while the main thread's event loop is blocked.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from './errors/ConfigError.js';

/** What the daemon's health callback answers. */
export interface HealthReport {
  /** True while the scheduler loop is alive and the metadata database answers. */
  readonly healthy: boolean;
  /** Why it is unhealthy; shown in the 503 body. */
  readonly reason?: string;
  /** More for the operator, added to the body as fields (`"eventLoop": "blocked for 4 s"`). */
  readonly notes?: Readonly<Record<string, string>>;
}

/** A Prometheus text exposition and its content type. */
export interface MetricsText {
  readonly contentType: string;
  readonly text: string;
}

/**
 * One health callback made of several checks, asked in order: the first unhealthy answer is the
 * report, so `/healthz` names the first thing wrong. The daemon registers its own checks this way.
 */
export function allHealthy(...checks: readonly (() => Promise<HealthReport>)[]): () => Promise<HealthReport> {
  return async () => {
    for (const check of checks) {
      const report = await check();
      if (!report.healthy) return report;
    }
    return { healthy: true };
  };
}

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions {
  /** Address to listen on (DRIVETRAIN_HTTP_HOST), e.g. `127.0.0.1` or `0.0.0.0`. */
  host: string;
  /** Port to listen on (DRIVETRAIN_HTTP_PORT); 0 picks a free one, returned by the call. */
  port: number;
  /** Judges the daemon's health on every `/healthz` request. A throw or a hang counts as unhealthy. */
  health: () => Promise<HealthReport>;
  /** The text served on `/metrics` (metrics.ts's metricsText in a process with the registry). */
  metrics: () => Promise<MetricsText>;
  /** Answers every other path (the web console and REST API); without it they are 404. */
  console?: { routing(req: http.IncomingMessage, res: http.ServerResponse): void };
}

/** A running listener. */
export interface HttpServerHandle {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** Stops listening and drops open keep-alive connections, so shutdown is not held up by a scraper. */
  close(): Promise<void>;
}

/**
 * How long `/healthz` waits for `health()`. A probe that hangs longer is itself the symptom (the
 * database is locked, the event loop is starved), and Docker's own probe timeout must not be hit first.
 */
export const HEALTH_TIMEOUT_MS = 2000;

const JSON_TYPE = 'application/json; charset=utf-8';

function send(res: http.ServerResponse, req: http.IncomingMessage, status: number, contentType: string, body: string, extra: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...extra,
  });
  // HEAD gets the same headers as GET, without the body.
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Runs `health()` with a deadline; never rejects. */
async function judge(health: () => Promise<HealthReport>): Promise<HealthReport> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<HealthReport>((resolve) => {
    timer = setTimeout(() => resolve({ healthy: false, reason: 'health check timed out' }), HEALTH_TIMEOUT_MS);
    // A pending probe must not keep a stopping process alive.
    timer.unref();
  });
  try {
    // Wrapped in an async thunk so a health() that throws synchronously is caught too.
    return await Promise.race([(async () => health())(), deadline]);
  } catch (err) {
    return { healthy: false, reason: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, opts: HttpServerOptions): Promise<void> {
  const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
  const known = pathname === '/healthz' || pathname === '/metrics';
  if (!known && opts.console) {
    opts.console.routing(req, res);
    return;
  }
  if (!known) {
    send(res, req, 404, JSON_TYPE, JSON.stringify({ error: `not found: ${pathname}` }));
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, req, 405, JSON_TYPE, JSON.stringify({ error: `method not allowed: ${req.method}` }), { allow: 'GET, HEAD' });
    return;
  }
  if (pathname === '/healthz') {
    const report = await judge(opts.health);
    const body = report.healthy
      ? { status: 'ok', ...report.notes }
      : { status: 'unhealthy', reason: report.reason ?? 'unhealthy (no reason given)', ...report.notes };
    send(res, req, report.healthy ? 200 : 503, JSON_TYPE, JSON.stringify(body));
    return;
  }
  const metrics = await opts.metrics();
  send(res, req, 200, metrics.contentType, metrics.text);
}

/**
 * A listen failure an operator fixes in the settings, as a ConfigError naming the variable (exit 2)
 * rather than a raw EADDRINUSE: the port is taken or needs privileges (DRIVETRAIN_HTTP_PORT), or the
 * address is not one of this host's (DRIVETRAIN_HTTP_HOST). Anything else is passed on as it is.
 */
function listenError(err: Error, opts: HttpServerOptions): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new ConfigError(`DRIVETRAIN_HTTP_PORT: port ${opts.port} on ${opts.host} is already in use`, 'DRIVETRAIN_HTTP_PORT');
  if (code === 'EACCES') return new ConfigError(`DRIVETRAIN_HTTP_PORT: port ${opts.port} on ${opts.host} needs privileges this process lacks (EACCES)`, 'DRIVETRAIN_HTTP_PORT');
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new ConfigError(`DRIVETRAIN_HTTP_HOST: '${opts.host}' is not an address of this host (${code})`, 'DRIVETRAIN_HTTP_HOST');
  }
  return err;
}

/**
 * Starts the health and metrics listener. Resolves once it is listening; rejects if the address is
 * taken or invalid (the daemon treats that as a start-up failure), with a ConfigError when a setting
 * is at fault.
 */
export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServerHandle> {
  const server = http.createServer((req, res) => {
    handle(req, res, opts).catch((err: unknown) => {
      // Only reached if the metrics callback itself fails; answer rather than leave the probe hanging.
      if (res.headersSent) res.destroy();
      else send(res, req, 500, JSON_TYPE, JSON.stringify({ error: err instanceof Error ? err.message : String(err) }));
    });
  });
  // Probes are tiny; short timeouts keep a misbehaving client from holding sockets.
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10000;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(listenError(err, opts));
    server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onError);
      resolve();
    });
  });

  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Idle keep-alive sockets would otherwise hold close() open until they time out.
        server.closeIdleConnections();
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
