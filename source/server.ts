/**
 * The sample source service on node:http: the original unpaged routes, keyset-paged /v1 routes,
 * /healthz and /openapi.json. Bodies are streamed batch by batch with backpressure, so a million
 * rows are served in flat memory.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FaultInjector, noFaults, type FaultOptions } from './faults.js';
import { ENTITIES, sourceRoutes, type EntityName } from '../operators/entities.js';
import { batchJson } from './batchJson.js';
import type { DatasetSizes, Row } from './generator.js';
import { openApiDocument } from './openapi.js';
import { BadCursorError, GeneratedRowSource, SqliteRowSource, type JsonBatch, type RowSource } from './rowSource.js';

/** Options of {@link startSourceServer}. */
export interface SourceServerOptions {
  /** Where rows come from; or give `db` or `generate` instead. */
  readonly source?: RowSource;
  /** Serve this SQLite file (original source schema). */
  readonly db?: string;
  /** Serve a generated dataset of these sizes and seed. */
  readonly generate?: { readonly sizes: DatasetSizes; readonly seed: number };
  /** Listen address. Default 127.0.0.1. */
  readonly host?: string;
  /** Listen port; 0 = a free one. Default 0. */
  readonly port?: number;
  /** Fault injection; default none. */
  readonly faults?: Partial<FaultOptions>;
  /** Close the row source when the server closes. Default true. */
  readonly closeSource?: boolean;
}

/** A running source service. */
export interface SourceServer {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly port: number;
  /** The live fault settings: change them to change behaviour of later requests. */
  readonly faults: FaultOptions;
  /** Requests received per path (data routes and the others), for tests. */
  readonly requests: Map<string, number>;
  /** Total data-route requests. */
  dataRequests(): number;
  close(): Promise<void>;
}

const DEFAULT_LIMIT = 1000;
const MAX_LIMIT = 100_000;

/** The opaque cursor of a row source's position: base64url, so clients do not build them. */
export function encodeCursor(position: string): string {
  return Buffer.from(position, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new BadCursorError(cursor);
  return Buffer.from(cursor, 'base64url').toString('utf8');
}

function route(pathname: string): { entity: EntityName; paged: boolean } | undefined {
  // Each route answers with or without its trailing slash: clients differ in which they send.
  const bare = pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
  for (const entity of ENTITIES) {
    const routes = sourceRoutes(entity);
    if (bare === routes.unpaged.replace(/\/$/, '')) return { entity, paged: false };
    if (bare === routes.paged.replace(/\/$/, '')) return { entity, paged: true };
  }
  return undefined;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

const COMMA = Buffer.from(',');

/** Writes with backpressure; resolves false when the client went away. */
async function write(res: http.ServerResponse, chunk: string | Buffer): Promise<boolean> {
  if (res.destroyed) return false;
  if (!res.write(chunk)) {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }
  return !res.destroyed;
}

/** Rows of the body as JSON: a source's {@link JsonBatch}, or rows rendered here, as text or bytes. */
type BodyBatch = Omit<JsonBatch, 'json'> & { readonly json: string | Buffer };

/** The body's rows as JSON batches: the source's own, or its row objects rendered here (malformed by the faults). */
async function* bodyBatches(source: RowSource, faults: FaultInjector, entity: EntityName, after: string | undefined, limit: number): AsyncGenerator<BodyBatch> {
  if (source.jsonBatches && !faults.malforms()) {
    yield* source.jsonBatches(entity, after, limit);
    return;
  }
  for await (const batch of source.batches(entity, after, limit)) {
    if (batch.rows.length === 0) continue;
    // The faults' malformations touch strings only; a RawText value passes through them as it is.
    yield { json: batchJson(batch.rows.map((row) => faults.maybeMalform(entity, row as Row)), batch.raw ?? false), count: batch.rows.length, next: batch.next };
  }
}

async function streamRows(
  res: http.ServerResponse,
  source: RowSource,
  faults: FaultInjector,
  entity: EntityName,
  after: string | undefined,
  limit: number,
  paged: boolean,
): Promise<void> {
  const iterator = bodyBatches(source, faults, entity, after, limit);
  // Pull the first batch before the headers, so a bad cursor is still a clean 400.
  let first: IteratorResult<BodyBatch>;
  try {
    first = await iterator.next();
  } catch (err) {
    if (err instanceof BadCursorError) return sendJson(res, 400, { detail: err.message });
    throw err;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  if (!(await write(res, paged ? '{"data":[' : '['))) return;
  let served = 0;
  let next: string | undefined;
  for (let step = first; !step.done; step = await iterator.next()) {
    const { json, count } = step.value;
    // A batch's bytes are written as they are (a page is ~1.4 MB): the comma before them on its own.
    const written = (served === 0 || (await write(res, COMMA))) && (await write(res, json));
    served += count;
    next = step.value.next;
    if (!written) {
      await iterator.return(undefined);
      return;
    }
  }
  if (paged) {
    const cursor = served === limit && next !== undefined ? JSON.stringify(encodeCursor(next)) : 'null';
    res.end(`],"next_cursor":${cursor}}`);
  } else {
    res.end(']');
  }
}

/** The rows to serve: the given source, the SQLite file, or a generated dataset (exactly one of them). */
async function openRowSource(opts: SourceServerOptions): Promise<RowSource> {
  const given = [opts.source, opts.db, opts.generate].filter((x) => x !== undefined).length;
  if (given !== 1) throw new TypeError('startSourceServer needs exactly one of source, db, generate');
  return opts.source ?? (opts.db !== undefined ? await SqliteRowSource.open(opts.db) : new GeneratedRowSource(opts.generate!.sizes, opts.generate!.seed));
}

/** A paged request's `limit` and `cursor` (decoded to the key to start after), or the 400 answer's body naming the bad one. */
function pagingOf(params: URLSearchParams): { limit: number; after: string | undefined } | { detail: string } {
  const rawLimit = params.get('limit');
  const limit = rawLimit === null ? DEFAULT_LIMIT : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    return { detail: `limit '${rawLimit}' is not an integer in 1..${MAX_LIMIT}` };
  }
  const cursor = params.get('cursor');
  if (!cursor) return { limit, after: undefined };
  try {
    return { limit, after: decodeCursor(cursor) };
  } catch (err) {
    return { detail: (err as Error).message };
  }
}

/** Starts the service; resolves once it listens. */
export async function startSourceServer(opts: SourceServerOptions): Promise<SourceServer> {
  const source = await openRowSource(opts);
  const faults: FaultOptions = { ...noFaults(), ...opts.faults };
  const injector = new FaultInjector(faults);
  const requests = new Map<string, number>();
  let dataRequests = 0;
  let url = '';

  const server = http.createServer((req, res) => {
    const parsed = new URL(req.url ?? '/', 'http://x');
    requests.set(parsed.pathname, (requests.get(parsed.pathname) ?? 0) + 1);
    const handle = async (): Promise<void> => {
      if (req.method !== 'GET') return sendJson(res, 405, { detail: `method ${req.method} not allowed` });
      if (parsed.pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
      if (parsed.pathname === '/openapi.json') return sendJson(res, 200, openApiDocument(url));
      const r = route(parsed.pathname);
      if (!r) return sendJson(res, 404, { detail: `no route ${parsed.pathname}` });
      dataRequests++;
      const decision = injector.decide();
      if (decision.hang) return; // never answer; the socket stays open until the client aborts or we close
      if (faults.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, faults.latencyMs));
      if (decision.failStatus !== undefined) {
        const headers: Record<string, string> = faults.retryAfterS !== undefined ? { 'retry-after': String(faults.retryAfterS) } : {};
        return sendJson(res, decision.failStatus, { detail: `injected failure ${decision.failStatus}` }, headers);
      }
      const paging = r.paged ? pagingOf(parsed.searchParams) : { limit: Number.MAX_SAFE_INTEGER, after: undefined };
      if ('detail' in paging) return sendJson(res, 400, paging);
      await streamRows(res, source, injector, r.entity, paging.after, paging.limit, r.paged);
    };
    handle().catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { detail: (err as Error).message });
      else res.destroy(err as Error);
    });
  });

  server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const host = opts.host ?? '127.0.0.1';
  url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url,
    port,
    faults,
    requests,
    dataRequests: () => dataRequests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (opts.closeSource !== false) await source.close();
    },
  };
}
