/**
 * The heartbeat thread's own code (started by heartbeat.ts through tsWorker.ts): lease renewal for
 * the executors of the process and the daemon's /healthz and /metrics, on a metadata connection of
 * its own (metadata/plainConnection.ts, the statements of metadata/statements.ts). Nothing here waits
 * for the main thread, except /metrics, and that only while the main thread's loop turns.
 */
import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { BLOCKED_AFTER_MS, CLOCK_SLOTS, type ErrorData, type FromHeartbeat, type ServeOptions, type ToHeartbeat, type TrackedItem } from './heartbeatMessages.js';
import { HEALTH_TIMEOUT_MS, startHttpServer, type HealthReport, type HttpServerHandle, type MetricsText } from './httpServer.js';
import { lostTo, renewLeases } from './lease.js';
import { dialectFor } from './metadata/dialect.js';
import type { Sql } from './metadata/interfaces.js';
import { parseMetadataUrl } from './metadata/metadataUrl.js';
import { PlainMetadataConnection } from './metadata/plainConnection.js';
import { PlainPgConnection } from './metadata/plainPgConnection.js';
import { Statements } from './metadata/statements.js';
import { WarehouseFileCheck } from './WarehouseFileCheck.js';

const port = parentPort!;
const clock = new BigInt64Array((workerData as { data: { clock: SharedArrayBuffer } }).data.clock);
/** The heartbeat's connection, on either engine: MetadataDb's tx/read without Sequelize. */
interface PlainConnection {
  tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T>;
  read<T>(fn: (sql: Sql) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The statements of each engine, made once. */
const statementsByEngine = { sqlite: new Statements(dialectFor('sqlite')), postgres: new Statements(dialectFor('postgres')) };

/** The engine named by a metadata location (a file path, `sqlite:FILE` or a postgres:// URL). */
function engineOf(location: string): 'sqlite' | 'postgres' {
  return parseMetadataUrl(location).engine;
}

function post(message: FromHeartbeat): void {
  port.postMessage(message);
}

function errorData(err: unknown): ErrorData {
  const e = err as { name?: string; message?: string; setting?: string };
  return { name: e?.name ?? 'Error', message: e?.message ?? String(err), ...(typeof e?.setting === 'string' ? { setting: e.setting } : {}) };
}

// ---- connections: one per metadata file, shared by the owners and the listener using it ----

const connections = new Map<string, { conn: Promise<PlainConnection>; users: number }>();

/** Opens the location's database: a plain sqlite3 connection to a file, or a plain pg client to a server. */
function openPlain(location: string): Promise<PlainConnection> {
  const loc = parseMetadataUrl(location);
  if (loc.engine === 'postgres') return PlainPgConnection.open(loc, dialectFor('postgres'));
  return PlainMetadataConnection.open(loc.file, dialectFor('sqlite'));
}

function connect(file: string): Promise<PlainConnection> {
  let entry = connections.get(file);
  if (!entry) {
    entry = { conn: openPlain(file), users: 0 };
    connections.set(file, entry);
    // A failed open is retried by the next user rather than cached.
    entry.conn.catch(() => connections.delete(file));
  }
  entry.users++;
  return entry.conn;
}

async function disconnect(file: string): Promise<void> {
  const entry = connections.get(file);
  if (!entry || --entry.users > 0) return;
  connections.delete(file);
  await (await entry.conn).close();
}

// ---- leases ----

interface Attempt {
  readonly items: readonly TrackedItem[];
  readonly deadlineMs: number | null;
  lost: boolean;
}

interface Owner {
  readonly owner: string;
  readonly file: string;
  readonly leaseMs: number;
  readonly conn: Promise<PlainConnection>;
  readonly timer: NodeJS.Timeout;
  readonly attempts: Map<number, Attempt>;
  /** The renewal under way, so a slow one is not overlapped by the next. */
  renewing?: Promise<void>;
}

const owners = new Map<string, Owner>();

async function renew(o: Owner): Promise<void> {
  const conn = await o.conn;
  const now = Date.now();
  const attempts = [...o.attempts.entries()];
  // Past its deadline an attempt's leases lapse: the task timeout bounds it even when the main
  // thread is stuck in it and cannot abort it.
  const overdue = attempts.filter(([, a]) => a.deadlineMs !== null && a.deadlineMs < now).flatMap(([, a]) => a.items.map((i) => i.id));
  const statements = statementsByEngine[engineOf(o.file)];
  await renewLeases({ tx: (fn) => conn.tx(fn), statements }, o.owner, o.leaseMs, now, overdue);
  const watched = attempts.filter(([, a]) => !a.lost);
  if (watched.length === 0) return;
  const rows = await conn.read((sql) => statements.leaseHolders(sql, watched.flatMap(([, a]) => a.items.map((i) => i.id))));
  for (const [key, a] of watched) {
    const lost = lostTo(o.owner, a.items, rows);
    // Finished meanwhile: its completion, not the lease, decides.
    if (!lost || !o.attempts.has(key)) continue;
    a.lost = true;
    post({ kind: 'lost', owner: o.owner, key, holder: lost.holder });
  }
}

function keep(m: Extract<ToHeartbeat, { kind: 'keep' }>): void {
  // Owner ids are unique per executor; a second registration replaces the first.
  if (owners.has(m.owner)) void release(m.owner);
  const o: Owner = {
    owner: m.owner,
    file: m.file,
    leaseMs: m.leaseMs,
    conn: connect(m.file),
    attempts: new Map(),
    timer: setInterval(() => {
      if (o.renewing) return;
      o.renewing = renew(o)
        .catch((err: unknown) => post({ kind: 'error', owner: o.owner, message: errorData(err).message }))
        .finally(() => (o.renewing = undefined));
    }, m.everyMs),
  };
  // An open that fails is reported by each renewal that awaits it.
  o.conn.catch(() => undefined);
  owners.set(m.owner, o);
}

async function release(owner: string): Promise<void> {
  const o = owners.get(owner);
  if (!o) return;
  owners.delete(owner);
  clearInterval(o.timer);
  await o.renewing;
  await disconnect(o.file);
}

// ---- the listener ----

let listener: { handle: HttpServerHandle; opts: ServeOptions; warehouse: WarehouseFileCheck; conn: Promise<PlainConnection> } | undefined;
let metricsCopy: MetricsText | undefined;
const metricsWaiting = new Map<number, (m: MetricsText) => void>();
let nextMetricsRef = 1;
/** The write probe under way, shared by the probes that come while it waits for the lock. */
let probing: Promise<void> | undefined;

/** Ms since the main thread's loop last ran, or 0 while it runs. */
function blockedMs(now = Date.now()): number {
  const since = now - Number(Atomics.load(clock, CLOCK_SLOTS.beat));
  return since > BLOCKED_AFTER_MS ? since : 0;
}

/**
 * Whether the metadata database accepts a write: what every turn and lease renewal needs. While the
 * main thread is blocked it may be holding the write lock itself (a task's code can run between two
 * statements of a turn), which the blocked-loop report covers already: then only a read is asked.
 */
function probeMetadata(conn: Promise<PlainConnection>, write: boolean): Promise<void> {
  if (!write) return conn.then((c) => c.ping());
  probing ??= (async () => (await conn).tx(async () => undefined))().finally(() => (probing = undefined));
  return probing;
}

/** How often a write probe waiting for the lock looks whether the loop has blocked meanwhile. */
const BLOCK_WATCH_MS = 100;

/**
 * The write probe, unless the loop counts as blocked before it has written: true once it wrote, false
 * when the loop blocked first. A probe that comes just as a block starts (the loop stamped less than
 * BLOCKED_AFTER_MS ago) asks for a write, and the blocked thread may be the one holding the lock (a DAG
 * import between two statements of a turn): the write then waits for the whole block, and the probe
 * went unanswered for as long (seen once in CI with a DAG file whose import spins).
 */
async function wroteBeforeBlock(conn: Promise<PlainConnection>): Promise<boolean> {
  const wrote = probeMetadata(conn, true).then(() => true);
  let watch: NodeJS.Timeout | undefined;
  const blocked = new Promise<false>((resolve) => {
    watch = setInterval(() => blockedMs() > 0 && resolve(false), BLOCK_WATCH_MS);
  });
  try {
    const first = await Promise.race([wrote, blocked]);
    // The write goes on: its failure, if any, is not this answer's (the next probe's, if it still waits).
    if (!first) wrote.catch(() => undefined);
    return first;
  } finally {
    clearInterval(watch);
  }
}

/**
 * The report while the loop is blocked: healthy while a running task may still be working within
 * its timeout (or, with no task running, for as long as a DAG import may take); past that, the loop
 * is stuck in something nothing in the process can stop, and only a restart helps.
 */
function blockedReport(ms: number, opts: ServeOptions): HealthReport {
  const s = Math.floor(ms / 1000);
  const now = Date.now();
  const running = [...owners.values()].flatMap((o) => [...o.attempts.values()]);
  if (running.length > 0) {
    if (running.every((a) => a.deadlineMs !== null && a.deadlineMs < now)) {
      return { healthy: false, reason: `event loop blocked for ${s} s, past the timeout of every running task` };
    }
  } else if (ms > opts.blockedLimitMs) {
    return { healthy: false, reason: `event loop blocked for ${s} s with no task running` };
  }
  return { healthy: true, notes: { eventLoop: `blocked for ${s} s` } };
}

async function health(): Promise<HealthReport> {
  const { opts, warehouse, conn } = listener!;
  const now = Date.now();
  const tick = Number(Atomics.load(clock, CLOCK_SLOTS.tick));
  // The listener starts first, so that a port in use stops the start before the DAG files load.
  if (tick === 0) return { healthy: false, reason: 'starting: the scheduler loop has not turned yet' };
  const blocked = blockedMs(now);
  let report: HealthReport = { healthy: true };
  if (blocked > 0) {
    report = blockedReport(blocked, opts);
    if (!report.healthy) return report;
  } else {
    const age = now - tick;
    if (age > opts.staleLoopMs) return { healthy: false, reason: `scheduler loop last ticked ${Math.round(age / 1000)} s ago` };
  }
  try {
    if (blocked === 0) {
      if (!(await wroteBeforeBlock(conn))) {
        report = blockedReport(blockedMs(), opts);
        if (!report.healthy) return report;
      }
    } else if (!probing) {
      // A write probe still waiting holds the connection's queue (a read would wait behind it), and
      // waits on the lock the blocked thread may hold: the blocked-loop report says what is known.
      await probeMetadata(conn, false);
    }
  } catch (err) {
    return { healthy: false, reason: `metadata database: ${errorData(err).message}` };
  }
  const file = await warehouse.check();
  return file.healthy ? report : file;
}

/** The gauge only this thread can give: how long the main loop has been blocked. */
function blockedGauge(): string {
  return [
    '# HELP drivetrain_event_loop_blocked_seconds How long the scheduler\'s event loop has not turned (0 while it turns)',
    '# TYPE drivetrain_event_loop_blocked_seconds gauge',
    `drivetrain_event_loop_blocked_seconds ${blockedMs() / 1000}`,
    '',
  ].join('\n');
}

/** Asks the main thread for its registry; undefined once its loop counts as blocked, or after the health timeout. */
function askMetrics(): Promise<MetricsText | undefined> {
  const ref = nextMetricsRef++;
  const asked = Date.now();
  let timer: NodeJS.Timeout | undefined;
  return new Promise<MetricsText | undefined>((resolve) => {
    metricsWaiting.set(ref, resolve);
    timer = setInterval(() => {
      if (blockedMs() > 0 || Date.now() - asked > HEALTH_TIMEOUT_MS) resolve(undefined);
    }, 100);
    post({ kind: 'metrics?', ref });
  }).finally(() => {
    clearInterval(timer);
    metricsWaiting.delete(ref);
  });
}

/** The main thread's registry (its last copy while the loop is blocked), with the blocked gauge. */
async function metrics(): Promise<MetricsText> {
  if (blockedMs() === 0) metricsCopy = (await askMetrics()) ?? metricsCopy;
  const text = metricsCopy?.text ?? '';
  return {
    contentType: metricsCopy?.contentType ?? 'text/plain; version=0.0.4; charset=utf-8',
    text: (text === '' || text.endsWith('\n') ? text : `${text}\n`) + blockedGauge(),
  };
}

// ---- the web console: the main thread serves it on a loopback port; this listener forwards to it ----

let consolePort: number | undefined;

/**
 * How long a console request may wait for the main thread. A task blocking that thread's loop holds
 * the console up, not /healthz; a browser then gets a 503 naming the cause instead of waiting for ever.
 */
const CONSOLE_TIMEOUT_MS = 30_000;

function consoleUnavailable(res: http.ServerResponse, detail: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ status: 503, title: 'Service Unavailable', detail });
  res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'retry-after': '5' });
  res.end(body);
}

/** Streams a request to the console and its answer back (a log read may be a megabyte). */
function forwardToConsole(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (consolePort === undefined) {
    consoleUnavailable(res, 'the console is starting: the daemon is loading its DAG files');
    req.resume();
    return;
  }
  const upstream = http.request(
    { host: '127.0.0.1', port: consolePort, method: req.method, path: req.url, headers: req.headers, timeout: CONSOLE_TIMEOUT_MS },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('timeout', () => upstream.destroy(new Error('timeout')));
  upstream.on('error', () => {
    const blocked = blockedMs();
    consoleUnavailable(res, blocked > 0 ? `the scheduler's event loop is blocked (for ${Math.round(blocked / 1000)} s); the console answers once it turns again` : 'the console did not answer');
  });
  // A client that goes away (a closed tab) must not leave the forwarded request open.
  res.on('close', () => upstream.destroy());
  req.pipe(upstream);
}

async function serve(m: Extract<ToHeartbeat, { kind: 'serve' }>): Promise<number> {
  const { kind: _kind, ref: _ref, ...opts } = m;
  if (listener) throw new Error('the heartbeat thread already serves /healthz');
  const handle = await startHttpServer({ host: opts.host, port: opts.port, health, metrics, console: { routing: forwardToConsole } });
  const conn = connect(opts.metadataFile);
  conn.catch(() => undefined);
  listener = { handle, opts, warehouse: new WarehouseFileCheck(opts.warehouseFile), conn };
  return handle.port;
}

async function unserve(): Promise<void> {
  const l = listener;
  if (!l) return;
  listener = undefined;
  metricsCopy = undefined;
  consolePort = undefined;
  await l.handle.close();
  await disconnect(l.opts.metadataFile);
}

// ---- messages ----

function reply(ref: number, work: Promise<number | void>): void {
  work.then(
    (value) => post({ kind: 'reply', ref, ...(typeof value === 'number' ? { port: value } : {}) }),
    (err: unknown) => post({ kind: 'reply', ref, error: errorData(err) }),
  );
}

port.on('message', (m: ToHeartbeat) => {
  switch (m.kind) {
    case 'keep':
      keep(m);
      return;
    case 'release':
      reply(m.ref, release(m.owner));
      return;
    case 'track':
      owners.get(m.owner)?.attempts.set(m.key, { items: m.items, deadlineMs: m.deadlineMs, lost: false });
      return;
    case 'finished':
      owners.get(m.owner)?.attempts.delete(m.key);
      return;
    case 'serve':
      reply(m.ref, serve(m));
      return;
    case 'unserve':
      reply(m.ref, unserve());
      return;
    case 'console':
      consolePort = m.port;
      return;
    case 'metrics':
      metricsWaiting.get(m.ref)?.({ contentType: m.contentType, text: m.text });
      return;
  }
});
