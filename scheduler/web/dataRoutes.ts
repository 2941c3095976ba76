/**
 * The data page's API: the declared marts' rows by date range and their freshness, rejects per load
 * with their reasons, and data-test results per run. Which tables exist comes from the dashboards
 * declaration (scheduler/web/dashboards.ts); without one these answer 404.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { checkDateRange } from '../dates.js';
import type { MetadataDb } from '../metadata/db.js';
import { redact } from '../redact.js';
import { notFound } from './ApiError.js';
import { requestDate } from './apiRoutes.js';
import type { Dashboards, MartDeclaration } from './dashboards.js';
import * as s from './schemas.js';
import type { WarehouseReader } from './warehouseReader.js';

/** What the data routes read. */
export interface DataRouteDeps {
  readonly db: MetadataDb;
  readonly warehouse: WarehouseReader;
  readonly dashboards: Dashboards | undefined;
}

const errors = (...codes: (400 | 401 | 404)[]) => Object.fromEntries(codes.map((c) => [c, s.problem]));

/** `YYYY-MM-DD` of a request's date bound. */
function day(value: string | undefined, field: string): string | undefined {
  return requestDate(value, field)?.toISOString().slice(0, 10);
}

export function registerDataRoutes(app: FastifyInstance, deps: DataRouteDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { db, warehouse } = deps;
  const declared = (): Dashboards => {
    if (!deps.dashboards) throw notFound('no dashboards are declared: add _dashboards.ts to DRIVETRAIN_DAGS_DIR (see docs/design/web-console.md)');
    return deps.dashboards;
  };
  const mart = (table: string): MartDeclaration => {
    const m = declared().marts.find((x) => x.table === table);
    if (!m) throw notFound(`'${table}' is not a declared mart (marts: ${declared().marts.map((x) => x.table).join(', ')})`);
    return m;
  };

  api.get('/api/v1/dashboards', {
    schema: { summary: 'The declared charts (which mart columns each draws)', tags: ['Data'], response: { 200: z.object({ charts: z.array(z.record(z.string(), z.unknown())) }), ...errors(401, 404) } },
  }, async () => ({ charts: declared().charts }));

  api.get('/api/v1/marts', {
    schema: { summary: 'The declared marts and their freshness', tags: ['Data'], response: { 200: z.object({ marts: z.array(s.martInfo), total_entries: z.number().int() }), ...errors(401, 404) } },
  }, async () => {
    const marts = declared().marts;
    const latest = await db.read((sql) => Promise.all(marts.map((m) => db.statements.taskHistory(sql, m.dagId, m.taskId, 1, 'success'))));
    return {
      marts: marts.map((m, i) => ({
        table: m.table,
        columns: m.columns,
        date_column: m.dateColumn,
        dag_id: m.dagId,
        task_id: m.taskId,
        latest_partition: latest[i][0]?.logical_date ?? null,
        written_at: latest[i][0]?.end_date ?? null,
      })),
      total_entries: marts.length,
    };
  });

  api.get('/api/v1/marts/:table', {
    schema: {
      summary: "A mart's rows with dates in [from, to], in date order",
      tags: ['Data'],
      params: z.object({ table: z.string() }),
      querystring: s.martQuery,
      response: { 200: z.object({ table: z.string(), columns: z.array(z.string()), rows: z.array(z.record(z.string(), z.unknown())), total_entries: z.number().int() }), ...errors(400, 401, 404) },
    },
  }, async (req) => {
    const m = mart(req.params.table);
    const from = day(req.query.from, 'from');
    const to = day(req.query.to, 'to');
    checkDateRange(from ? new Date(from) : undefined, to ? new Date(to) : undefined, 'from', 'to');
    const where: string[] = [];
    const params: string[] = [];
    if (m.dateColumn && from) {
      where.push(`"${m.dateColumn}" >= ?`);
      params.push(from);
    }
    if (m.dateColumn && to) {
      where.push(`"${m.dateColumn}" <= ?`);
      params.push(to);
    }
    const cond = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const order = [m.dateColumn, ...m.columns.filter((c) => c !== m.dateColumn)].filter((c): c is string => c !== null).map((c) => `"${c}"`).join(', ');
    const cols = m.columns.map((c) => `"${c}"`).join(', ');
    const [rows, count] = await Promise.all([
      warehouse.all(`SELECT ${cols} FROM "${m.table}" ${cond} ORDER BY ${order} LIMIT ? OFFSET ?`, [...params, req.query.limit, req.query.offset]),
      warehouse.all<{ n: number }>(`SELECT COUNT(*) AS n FROM "${m.table}" ${cond}`, params),
    ]);
    return { table: m.table, columns: m.columns, rows, total_entries: count[0]?.n ?? 0 };
  });

  api.get('/api/v1/dataQuality/rejects', {
    schema: {
      summary: 'Rejected rows per load (source and date) and reason, with counts',
      tags: ['Data'],
      querystring: s.dateRange,
      response: { 200: z.object({ rejects: z.array(z.object({ load: z.string(), date: z.string(), reason: z.string(), count: z.number().int() })), total_entries: z.number().int() }), ...errors(400, 401, 404) },
    },
  }, async (req) => {
    const r = declared().rejects;
    if (!r) throw notFound('the dashboards declare no rejects table');
    const from = day(req.query.from, 'from');
    const to = day(req.query.to, 'to');
    const rows = await warehouse.all<{ load: string; date: string; reason: string; count: number }>(
      `SELECT "${r.loadColumn}" AS load, "${r.dateColumn}" AS date, "${r.reasonColumn}" AS reason, COUNT(*) AS count FROM "${r.table}"
       WHERE "${r.dateColumn}" >= ? AND "${r.dateColumn}" <= ?
       GROUP BY 1, 2, 3 ORDER BY 2 DESC, 1, 4 DESC LIMIT 1000`,
      [from ?? '', to ?? '9999'],
    );
    return { rejects: rows.map((x) => ({ ...x, load: String(x.load), date: String(x.date), reason: redact(String(x.reason)) })), total_entries: rows.length };
  });

  api.get('/api/v1/dataQuality/tests', {
    schema: {
      summary: 'Data-test results per run: the latest instances of each declared test task',
      tags: ['Data'],
      querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(25) }),
      response: {
        200: z.object({
          results: z.array(z.object({ dag_id: z.string(), task_id: z.string(), dag_run_id: z.string(), logical_date: z.string(), state: z.string().nullable(), end_date: z.string().nullable(), error: z.string().nullable() })),
          total_entries: z.number().int(),
        }),
        ...errors(400, 401, 404),
      },
    },
  }, async (req) => {
    const tests = declared().dataTests;
    const rows = await db.read((sql) => Promise.all(tests.map((t) => db.statements.taskHistory(sql, t.dagId, t.taskId, req.query.limit))));
    const results = rows.flat().map((ti) => ({
      dag_id: ti.dag_id,
      task_id: ti.task_id,
      dag_run_id: ti.run_id,
      logical_date: ti.logical_date,
      state: ti.state,
      end_date: ti.end_date,
      error: ti.last_error === null ? null : redact(ti.last_error),
    }));
    return { results, total_entries: results.length };
  });
}
