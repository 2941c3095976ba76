/**
 * The web console and REST API as one fastify application that is not listening anywhere: the
 * daemon's listener hands it every request other than /healthz and /metrics (`app.routing(req, res)`
 * after `await app.ready()`), so the same app runs in the main thread, a worker thread or a separate
 * process. Everything it shows comes from the metadata database, the log directory and the warehouse
 * file; nothing from a scheduler's memory. Why it is built this way: docs/design/web-console.md.
 */
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clockFromSettings, systemClock } from '../clock.js';
import { DateRangeError } from '../errors/DateRangeError.js';
import { InvalidDateError } from '../errors/InvalidDateError.js';
import type { Clock, Logger } from '../interfaces.js';
import type { MetadataDb } from '../metadata/db.js';
import { redact } from '../redact.js';
import type { Settings } from '../settings.js';
import { ApiError } from './ApiError.js';
import { registerApiRoutes } from './apiRoutes.js';
import { bearerMatches, consoleTokenMatches, resolveApiToken } from './auth.js';
import { loadDashboards, type Dashboards } from './dashboards.js';
import { registerDataRoutes } from './dataRoutes.js';
import { sqliteWarehouseReader, warehouseReaderOf, type WarehouseReader } from './warehouseReader.js';

/** What the console reads; nothing else. */
export interface ConsoleDeps {
  /** The metadata database (DAG structure, runs, instances). */
  readonly db: MetadataDb;
  /** DRIVETRAIN_LOG_DIR: the attempt logs. */
  readonly logDir: string;
  /** The warehouse file the data page reads (read-only). */
  readonly warehouseFile: string;
  /** The bearer token; undefined = read-only console (changes get 403). */
  readonly token: string | undefined;
  /** The data page's declaration; undefined = nothing to draw. */
  readonly dashboards: Dashboards | undefined;
  /** Places "next run" on the DAGs page and dates a trigger without a date. Default: the wall clock. */
  readonly clock?: Clock;
  /** Where actions (pause, trigger, clear) are recorded; default: nowhere. */
  readonly log?: Logger;
  /** Another warehouse reader (PostgreSQL, tests); default: the SQLite file, read-only. */
  readonly warehouse?: WarehouseReader;
}

/** The console's dependencies from a process's settings (token, dashboards of its DAG folder). */
export async function consoleDepsFromSettings(settings: Settings, db: MetadataDb, log?: Logger): Promise<ConsoleDeps> {
  return {
    db,
    log,
    logDir: settings.logDir,
    warehouseFile: settings.warehouseDb,
    warehouse: warehouseReaderOf(settings.warehouseUrl),
    token: resolveApiToken(settings),
    dashboards: await loadDashboards(settings.dagsDir),
    clock: clockFromSettings(settings),
  };
}

const here = path.dirname(fileURLToPath(import.meta.url));
const ASSETS = path.join(here, 'assets');
const UPLOT_DIST = path.join(path.dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');

/**
 * No inline script or style, nothing from another origin: data shown as text can never run, and the
 * console works offline. uPlot sizes its canvas through the CSSOM, which style-src does not govern.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const CHANGES = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

const TITLES: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 415: 'Unsupported Media Type', 500: 'Internal Server Error', 503: 'Service Unavailable' };

/** The value at a validation issue's path, quoted for a one-line error. */
function quoted(source: unknown, pathParts: readonly PropertyKey[]): string {
  let v: unknown = source;
  for (const p of pathParts) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  if (v === undefined) return 'missing';
  const text = typeof v === 'string' ? `'${v}'` : JSON.stringify(v);
  return redact(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}

/** Builds the console app (not listening): await `app.ready()`, then route requests with `app.routing(req, res)`. */
export async function createConsoleApp(deps: ConsoleDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, routerOptions: { ignoreTrailingSlash: true }, bodyLimit: 1024 * 1024 });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  const clock = deps.clock ?? systemClock;

  app.addHook('onSend', async (_req, reply, payload) => {
    void reply
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY');
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
    return payload;
  });

  // The assets hold no data; every datum comes from /api, which is where the token is checked (the page: below).
  app.addHook('onRequest', async (req) => {
    const url = req.url.split('?')[0];
    if (!url.startsWith('/api/') || url === '/api/v1/auth') return;
    const change = CHANGES.has(req.method);
    if (change && deps.token === undefined) {
      throw new ApiError(403, 'Forbidden', 'the API is read-only: DRIVETRAIN_API_TOKEN is not set, so no request may change anything');
    }
    if ((change || deps.token !== undefined) && !bearerMatches(req.headers.authorization, deps.token!)) {
      throw new ApiError(401, 'Unauthorized', req.headers.authorization ? 'the bearer token is wrong' : 'this request needs Authorization: Bearer <DRIVETRAIN_API_TOKEN>');
    }
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    let status: number;
    let detail: string;
    if (err instanceof ApiError) {
      status = err.status;
      detail = err.detail;
    } else if (hasZodFastifySchemaValidationErrors(err)) {
      status = 400;
      const issue = err.validation[0];
      const where = err.validationContext ?? 'request';
      const source = where === 'body' ? req.body : where === 'querystring' ? req.query : where === 'params' ? req.params : req.headers;
      const p = issue.instancePath.split('/').filter(Boolean);
      const field = [where, ...p].join('.');
      detail = `${field}: ${issue.message} (got ${quoted(source, p)})`;
    } else if (err instanceof InvalidDateError || err instanceof DateRangeError) {
      status = 400;
      detail = err.message;
    } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode;
      detail = err.message;
    } else {
      status = 500;
      detail = 'internal error';
      process.stderr.write(`drivetrain console: ${req.method} ${req.url}: ${redact(err.stack ?? String(err))}\n`);
    }
    void reply.code(status).type('application/problem+json').send({ status, title: TITLES[status] ?? 'Error', detail: redact(detail) });
  });

  app.setNotFoundHandler((req, reply) => {
    const status = 404;
    void reply.code(status).type('application/problem+json').send({ status, title: 'Not Found', detail: `no such resource: ${req.method} ${redact(req.url.split('?')[0])}` });
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Drivetrain API', version: '1', description: "The scheduler's resources in the shapes of Airflow's stable REST API" },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
    hideUntagged: true,
  });

  app.get('/api/v1/auth', { schema: { hide: true } }, async () => ({ token_required: deps.token !== undefined, read_only: deps.token === undefined }));
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  registerApiRoutes(app, { db: deps.db, logDir: deps.logDir, clock, log: deps.log });
  registerDataRoutes(app, { db: deps.db, warehouse: deps.warehouse ?? sqliteWarehouseReader(deps.warehouseFile), dashboards: deps.dashboards });

  await app.register(fastifyStatic, { root: ASSETS, prefix: '/assets/', index: false, cacheControl: false });
  await app.register(fastifyStatic, { root: UPLOT_DIST, prefix: '/assets/vendor/uplot/', decorateReply: false, cacheControl: false });
  // With a token set, the page answers 401 until the request carries it; the body is still the page, whose
  // token form is how a browser user gives it (and sets the cookie that makes the next load a 200).
  app.get('/', { schema: { hide: true } }, (req, reply) => {
    if (deps.token !== undefined && !consoleTokenMatches(req.headers, deps.token)) void reply.code(401);
    return reply.type('text/html; charset=utf-8').sendFile('index.html');
  });
  return app;
}
