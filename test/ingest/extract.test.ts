import { expect } from 'chai';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { CircuitOpenError } from '../../operators/extract/CircuitOpenError.js';
import type { CursorCycleError } from '../../operators/extract/CursorCycleError.js';
import { extractTask } from '../../operators/extract/extractTask.js';
import { resetBreakers } from '../../operators/extract/breakers.js';
import { readLakePartition, readManifest } from '../../operators/lake/reader.js';
import type { Entity } from '../../operators/entities.js';
import { NonRetryableError } from '../../scheduler/errors/NonRetryableError.js';
import { isTaskDeferred } from '../../scheduler/errors/TaskDeferredError.js';
import type { TaskContext } from '../../scheduler/interfaces.js';
import { breakerStateGauge } from '../../scheduler/metrics.js';
import { generateRows } from '../../source/generator.js';
import { GeneratedRowSource } from '../../source/rowSource.js';
import { startSourceServer, type SourceServer } from '../../source/server.js';
import type { FaultOptions } from '../../source/faults.js';
import { testTaskContext } from '../helpers/taskContext.js';
import { testSettings, useTmpDir } from '../helpers/tmp.js';

const sizes = { cars: 120, customers: 40, subscriptions: 90 };
const DS = '2024-01-15';

async function lakeRows(lakeDir: string, entity: string): Promise<unknown[]> {
  const rows: unknown[] = [];
  for await (const r of readLakePartition(lakeDir, entity, DS)) rows.push(r);
  return rows;
}

/** The error an extract of `entity` fails with, or undefined when it succeeds. */
function extractFailure(ctx: TaskContext, entity: Entity = 'cars'): Promise<Error | undefined> {
  return Promise.resolve(extractTask({ entity })(ctx)).then(() => undefined, (e: Error) => e);
}

describe('extract operator', () => {
  let server: SourceServer;
  const tmp = useTmpDir('ingest-extract-', {
    beforeRemove: async () => {
      await server?.close();
      resetBreakers();
    },
  });
  const start = async (faults: Partial<FaultOptions> = {}) => {
    server = await startSourceServer({ source: new GeneratedRowSource(sizes, 5), faults });
  };
  const settings = (env: Record<string, string> = {}) =>
    testSettings(tmp.dir, {
      DRIVETRAIN_SOURCE_URL: server.url,
      DRIVETRAIN_SOURCE_PAGE_SIZE: '25',
      DRIVETRAIN_SOURCE_RETRY_MIN_TIMEOUT_MS: '5',
      DRIVETRAIN_SOURCE_RETRY_MAX_TIMEOUT_MS: '20',
      DRIVETRAIN_BREAKER_VOLUME_THRESHOLD: '1000',
      ...env,
    });

  it('writes the same rows to the lake through the paged and the unpaged API', async () => {
    await start();
    const paged = settings();
    await extractTask({ entity: 'cars' })(testTaskContext(paged, { ds: DS }));
    const fromPages = await lakeRows(paged.lakeDir, 'cars');
    expect(server.requests.get('/v1/cars')).to.equal(5);
    const unpaged = testSettings(path.join(tmp.dir, 'u'), { DRIVETRAIN_SOURCE_URL: server.url, DRIVETRAIN_SOURCE_PAGE_SIZE: '0' });
    await extractTask({ entity: 'cars' })(testTaskContext(unpaged, { ds: DS }));
    expect(server.requests.get('/cars/')).to.equal(1);
    expect(await lakeRows(unpaged.lakeDir, 'cars')).to.deep.equal(fromPages);
    expect(fromPages).to.deep.equal([...generateRows('cars', sizes, 5)]);
    const manifest = await readManifest(paged.lakeDir, 'cars', DS);
    expect(manifest).to.include({ entity: 'cars', ds: DS, rows: 120, source_url: `${server.url}/v1/cars?limit=25` });
  });

  it('falls back to the unpaged route when the source has no paged routes, as the original service', async () => {
    // A stand-in for the original FastAPI service: only GET /cars/, everything else 404.
    const rows = [...generateRows('cars', sizes, 5)];
    const original = http.createServer((req, res) => {
      if (req.url !== '/cars/') return void res.writeHead(404).end('{"detail":"Not Found"}');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(rows));
    });
    await new Promise<void>((resolve) => original.listen(0, '127.0.0.1', resolve));
    try {
      const port = (original.address() as AddressInfo).port;
      const ctx = testTaskContext(testSettings(tmp.dir, { DRIVETRAIN_SOURCE_URL: `http://127.0.0.1:${port}`, DRIVETRAIN_SOURCE_PAGE_SIZE: '25' }), { ds: DS });
      await extractTask({ entity: 'cars' })(ctx);
      expect(await lakeRows(ctx.settings.lakeDir, 'cars')).to.deep.equal(rows);
      expect((await readManifest(ctx.settings.lakeDir, 'cars', DS)).source_url).to.equal(`http://127.0.0.1:${port}/cars/`);
      expect(ctx.log.has(/answered 404: the source has no paged routes/, 'warn')).to.equal(true);
    } finally {
      await new Promise((resolve) => original.close(resolve));
    }
  });

  it('retries failed requests with backoff and succeeds when the source recovers', async () => {
    await start({ failFirst: 3, failStatus: 503 });
    const ctx = testTaskContext(settings({ DRIVETRAIN_SOURCE_RETRIES: '3' }), { ds: DS });
    await extractTask({ entity: 'customers' })(ctx);
    expect(server.dataRequests()).to.equal(3 + 2);
    expect((await lakeRows(ctx.settings.lakeDir, 'customers')).length).to.equal(40);
    expect(ctx.log.find(/attempt \d failed: source answered 503/, 'warn')).to.have.length(3);
  });

  it('fails once retries are exhausted and leaves no partition behind', async () => {
    await start({ failRate: 1, failStatus: 500 });
    const ctx = testTaskContext(settings({ DRIVETRAIN_SOURCE_RETRIES: '2' }), { ds: DS });
    const error = await extractFailure(ctx);
    expect(error?.message).to.match(/failed after 3 attempts: source answered 500/);
    expect(error).to.not.be.instanceOf(NonRetryableError);
    expect(server.dataRequests()).to.equal(3);
    expect(existsSync(path.join(ctx.settings.lakeDir, 'cars', `ds=${DS}`))).to.equal(false);
  });

  it('does not retry a 403 and fails the task as non-retryable', async () => {
    await start({ failRate: 1, failStatus: 403 });
    const ctx = testTaskContext(settings({ DRIVETRAIN_SOURCE_RETRIES: '4' }), { ds: DS });
    const error = await extractFailure(ctx);
    expect(error).to.be.instanceOf(NonRetryableError);
    expect((error as Error).message).to.match(/source answered 403/);
    expect(server.dataRequests()).to.equal(1);
  });

  it('does not retry a 404 either: one request to the paged route, one to the unpaged fallback', async () => {
    await start({ failRate: 1, failStatus: 404 });
    const ctx = testTaskContext(settings({ DRIVETRAIN_SOURCE_RETRIES: '4' }), { ds: DS });
    const error = await extractFailure(ctx);
    expect(error).to.be.instanceOf(NonRetryableError);
    expect((error as Error).message).to.match(/source answered 404 to GET .*\/cars\/$/);
    expect(server.dataRequests()).to.equal(2);
  });

  it('retries a 429 after the Retry-After the source asked for', async () => {
    await start({ failFirst: 1, failStatus: 429, retryAfterS: 1 });
    const ctx = testTaskContext(settings({ DRIVETRAIN_SOURCE_RETRIES: '1', DRIVETRAIN_SOURCE_RETRY_MAX_TIMEOUT_MS: '2000' }), { ds: DS });
    await extractTask({ entity: 'customers' })(ctx);
    expect(server.dataRequests()).to.equal(1 + 2);
    expect(ctx.log.has(/retry after 1000 ms/)).to.equal(true);
  });

  it('times out a source that never answers', async () => {
    await start({ hang: true });
    const ctx = testTaskContext(settings({ DRIVETRAIN_SOURCE_RETRIES: '1', DRIVETRAIN_SOURCE_TIMEOUT_MS: '150' }), { ds: DS });
    const error = await extractFailure(ctx);
    expect(error?.message).to.match(/timed out after 150 ms/);
    expect(server.dataRequests()).to.equal(2);
  });

  it('opens the breaker past the failure threshold, fails fast, half-opens and closes again', async () => {
    await start({ failRate: 1, failStatus: 503 });
    const s = settings({
      DRIVETRAIN_SOURCE_RETRIES: '0',
      DRIVETRAIN_BREAKER_VOLUME_THRESHOLD: '2',
      DRIVETRAIN_BREAKER_ERROR_THRESHOLD_PCT: '50',
      DRIVETRAIN_BREAKER_RESET_TIMEOUT_MS: '300',
    });
    const host = new URL(server.url).host;
    const ctx = testTaskContext(s, { ds: DS });
    const run = () => extractFailure(ctx);
    expect((await run())?.message).to.match(/503/);
    // This failure opened the breaker: the attempt ends as its deferral, the 503 as the cause.
    const opening = await run();
    expect(opening).to.be.instanceOf(CircuitOpenError);
    expect((opening?.cause as Error).message).to.match(/503/);
    expect(server.dataRequests()).to.equal(2);
    expect(ctx.log.has(`circuit breaker for ${host} opened`)).to.equal(true);

    // Open: the request is not sent, and the error says until when.
    const fast = await run();
    expect(fast?.message).to.match(new RegExp(`circuit for ${host} is open until \\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z`));
    expect(fast).to.not.be.instanceOf(NonRetryableError);
    expect(server.dataRequests()).to.equal(2);
    expect((await breakerStateGauge.get()).values.find((v) => v.labels.host === host)?.value).to.equal(2);

    // After the reset timeout a trial request goes through; the source has recovered, so it closes.
    server.faults.failRate = 0;
    await new Promise((r) => setTimeout(r, 400));
    expect(await run()).to.equal(undefined);
    expect(ctx.log.has(`circuit breaker for ${host} half-open`)).to.equal(true);
    expect(ctx.log.has(`circuit breaker for ${host} closed`)).to.equal(true);
    expect((await breakerStateGauge.get()).values.find((v) => v.labels.host === host)?.value).to.equal(0);
  });

  it('ends an attempt against an open breaker as a deferral until it may half-open, naming the source and when the outage began', async () => {
    await start({ failRate: 1, failStatus: 503 });
    const port = new URL(server.url).port;
    const s = settings({
      DRIVETRAIN_SOURCE_URL: `http://etl:pw-s3cret@127.0.0.1:${port}`,
      DRIVETRAIN_SOURCE_RETRIES: '0',
      DRIVETRAIN_BREAKER_VOLUME_THRESHOLD: '1',
      DRIVETRAIN_BREAKER_RESET_TIMEOUT_MS: '200',
    });
    const ctx = testTaskContext(s, { ds: DS });
    const first = await extractFailure(ctx);
    expect(isTaskDeferred(first)).to.equal(true);
    const deferred = first as CircuitOpenError;
    expect(deferred.notBefore.getTime() - deferred.since.getTime()).to.equal(200);
    expect(deferred.reason).to.equal(`source http://127.0.0.1:${port} unreachable: circuit breaker open since ${deferred.since.toISOString()}`);

    // At the time it names, a trial request goes out, fails and re-opens the breaker: the outage
    // goes on since the same time, and the next chance moves on.
    await new Promise((r) => setTimeout(r, deferred.notBefore.getTime() - Date.now() + 20));
    const again = (await extractFailure(ctx)) as CircuitOpenError;
    expect(server.dataRequests()).to.equal(2);
    expect(isTaskDeferred(again)).to.equal(true);
    expect(again.since).to.deep.equal(deferred.since);
    expect(again.notBefore.getTime()).to.be.above(deferred.notBefore.getTime());
    expect(ctx.log.text()).not.to.contain('pw-s3cret');
  });

  it('shares one breaker per host between tasks', async () => {
    await start({ failRate: 1, failStatus: 503 });
    const s = settings({ DRIVETRAIN_SOURCE_RETRIES: '0', DRIVETRAIN_BREAKER_VOLUME_THRESHOLD: '2', DRIVETRAIN_BREAKER_RESET_TIMEOUT_MS: '60000' });
    await Promise.resolve(extractTask({ entity: 'cars' })(testTaskContext(s, { ds: DS }))).catch(() => {});
    await Promise.resolve(extractTask({ entity: 'customers' })(testTaskContext(s, { ds: DS }))).catch(() => {});
    const other = testTaskContext(s, { ds: DS });
    const err = await extractFailure(other, 'subscriptions');
    expect(err?.message).to.match(/circuit for .* is open until/);
    expect(server.requests.get('/v1/subscriptions') ?? 0).to.equal(0);
  });

  it('fails the extract with the cursor named when the source\'s cursors cycle', async () => {
    // Cursors A -> B -> A: following them never ends. A source that gave up after 20 pages (answering
    // the last page) would let an extract that does not notice the cycle succeed with repeated rows.
    const next: Record<string, string> = { '': 'A', A: 'B', B: 'A' };
    let requests = 0;
    const cycling = http.createServer((req, res) => {
      requests++;
      const cursor = new URL(req.url!, 'http://x').searchParams.get('cursor') ?? '';
      const body = { data: [{ id: `row-${requests}` }], next_cursor: requests >= 20 ? null : next[cursor] };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => cycling.listen(0, '127.0.0.1', resolve));
    try {
      const port = (cycling.address() as AddressInfo).port;
      const ctx = testTaskContext(testSettings(tmp.dir, { DRIVETRAIN_SOURCE_URL: `http://127.0.0.1:${port}`, DRIVETRAIN_SOURCE_PAGE_SIZE: '1' }), { ds: DS });
      const error = await extractFailure(ctx);
      expect(error).to.be.instanceOf(NonRetryableError);
      expect(error?.message).to.equal('source cursors cycle for cars: page 3 sent next_cursor "A" again (first sent by page 1); refusing to loop');
      expect((error?.cause as CursorCycleError).name).to.equal('CursorCycleError');
      expect(error?.cause).to.include({ entity: 'cars', cursor: 'A', firstPage: 1, page: 3 });
      expect(requests).to.equal(3);
      expect(existsSync(path.join(ctx.settings.lakeDir, 'cars', `ds=${DS}`))).to.equal(false);
    } finally {
      await new Promise((resolve) => cycling.close(resolve));
    }
  });
});
