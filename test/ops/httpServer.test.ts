import http from 'node:http';
import { expect } from 'chai';
import { ConfigError } from '../../scheduler/errors/ConfigError.js';
import { HEALTH_TIMEOUT_MS, startHttpServer, type HealthReport } from '../../scheduler/httpServer.js';
import { metricsText, registry, taskAttemptsCounter } from '../../scheduler/metrics.js';

type Handle = Awaited<ReturnType<typeof startHttpServer>>;

describe('the health and metrics listener', function () {
  let server: Handle | undefined;
  let report: () => Promise<HealthReport>;

  beforeEach(async function () {
    report = async () => ({ healthy: true });
    // The callback indirection lets each test change what health() answers on a live server.
    server = await startHttpServer({ host: '127.0.0.1', port: 0, health: () => report(), metrics: metricsText });
  });

  afterEach(async function () {
    await server?.close();
    server = undefined;
  });

  const url = (p: string): string => `http://127.0.0.1:${server!.port}${p}`;

  it('binds a real free port when asked for port 0', function () {
    expect(server!.port).to.be.a('number').greaterThan(0);
  });

  it('answers /healthz with 200 and status ok while health() says healthy', async function () {
    const res = await fetch(url('/healthz'));
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    expect(await res.json()).to.deep.equal({ status: 'ok' });
  });

  it('answers /healthz with 503 and the reason when health() says unhealthy', async function () {
    report = async () => ({ healthy: false, reason: 'scheduler heartbeat is 42 s old' });
    const res = await fetch(url('/healthz'));
    expect(res.status).to.equal(503);
    expect(await res.json()).to.deep.equal({ status: 'unhealthy', reason: 'scheduler heartbeat is 42 s old' });
  });

  it('answers 503 with the error message when health() throws', async function () {
    report = async () => {
      throw new Error('SQLITE_CANTOPEN: unable to open database file');
    };
    const res = await fetch(url('/healthz'));
    expect(res.status).to.equal(503);
    expect(await res.json()).to.deep.equal({ status: 'unhealthy', reason: 'SQLITE_CANTOPEN: unable to open database file' });
  });

  it('answers 503 when health() throws synchronously instead of rejecting', async function () {
    report = () => {
      throw new Error('not even a promise');
    };
    const res = await fetch(url('/healthz'));
    expect(res.status).to.equal(503);
    expect(((await res.json()) as { reason: string }).reason).to.equal('not even a promise');
  });

  it('answers 503 "health check timed out" when health() hangs', async function () {
    this.timeout(HEALTH_TIMEOUT_MS + 5000);
    report = () => new Promise<HealthReport>(() => {});
    const res = await fetch(url('/healthz'));
    expect(res.status).to.equal(503);
    expect(await res.json()).to.deep.equal({ status: 'unhealthy', reason: 'health check timed out' });
  });

  it('serves the shared registry in Prometheus text format on /metrics, counters included as they move', async function () {
    const labels = { dag_id: 'http_server_test', task_id: 'probe', outcome: 'success' };
    const metricLine = /drivetrain_task_attempts_total\{dag_id="http_server_test",task_id="probe",outcome="success"\} (\d+)/;
    taskAttemptsCounter.inc(labels, 2);
    const first = await fetch(url('/metrics'));
    expect(first.status).to.equal(200);
    expect(first.headers.get('content-type')).to.equal(registry.contentType);
    const before = Number(metricLine.exec(await first.text())?.[1]);
    taskAttemptsCounter.inc(labels, 3);
    const text = await (await fetch(url('/metrics'))).text();
    expect(Number(metricLine.exec(text)?.[1])).to.equal(before + 3);
    expect(text).to.include('# TYPE drivetrain_task_duration_seconds histogram');
    expect(text).to.include('# TYPE drivetrain_circuit_breaker_state gauge');
    expect(text).to.include('drivetrain_process_');
  });

  it('answers 404 for any other path', async function () {
    const res = await fetch(url('/nope'));
    expect(res.status).to.equal(404);
    expect(((await res.json()) as { error: string }).error).to.include('/nope');
  });

  it('ignores a query string on /healthz', async function () {
    const res = await fetch(url('/healthz?probe=docker'));
    expect(res.status).to.equal(200);
  });

  it('answers HEAD with the status and headers but no body', async function () {
    report = async () => ({ healthy: false, reason: 'stalled' });
    const res = await fetch(url('/healthz'), { method: 'HEAD' });
    expect(res.status).to.equal(503);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    expect(await res.text()).to.equal('');
  });

  it('refuses other methods on known paths with 405', async function () {
    const res = await fetch(url('/healthz'), { method: 'POST' });
    expect(res.status).to.equal(405);
    expect(res.headers.get('allow')).to.equal('GET, HEAD');
  });

  it('closes promptly although a client holds a keep-alive connection open', async function () {
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      http
        .get(url('/healthz'), { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve());
        })
        .on('error', reject);
    });
    const port = server!.port;
    await server!.close();
    server = undefined;
    agent.destroy();
    let refused = false;
    await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => {
      refused = true;
    });
    expect(refused).to.equal(true);
  });

  it('rejects with a ConfigError naming DRIVETRAIN_HTTP_PORT when the port is already taken', async function () {
    let error: unknown;
    await startHttpServer({ host: '127.0.0.1', port: server!.port, health: report, metrics: metricsText }).catch((err: unknown) => {
      error = err;
    });
    expect(error).to.be.instanceOf(ConfigError);
    expect((error as ConfigError).setting).to.equal('DRIVETRAIN_HTTP_PORT');
    expect((error as ConfigError).message).to.equal(`DRIVETRAIN_HTTP_PORT: port ${server!.port} on 127.0.0.1 is already in use`);
  });

  it('rejects with a ConfigError naming DRIVETRAIN_HTTP_HOST when the address is not this host\'s', async function () {
    // 192.0.2.0/24 is TEST-NET-1: documentation only, never assigned to an interface.
    let error: unknown;
    await startHttpServer({ host: '192.0.2.1', port: 0, health: report, metrics: metricsText }).catch((err: unknown) => {
      error = err;
    });
    expect(error).to.be.instanceOf(ConfigError);
    expect((error as ConfigError).setting).to.equal('DRIVETRAIN_HTTP_HOST');
  });
});
