/**
 * The demo's closing summary: a few rows and totals of each mart, read straight from the warehouse
 * file with plain SQL, so what it prints is what any SQLite client would see.
 */
import { SqliteConnection } from '../operators/warehouse/SqliteConnection.js';

/** The contract's five marts, in the order the summary shows them. */
export const MARTS = ['infleeted_cars_volumes', 'defleeted_cars_volumes', 'cars_deliveries', 'type_share', 'type_distribution'] as const;

type Value = string | number | null;
type Row = Record<string, Value>;

/** A read-only connection, with rows typed as the summary shows them. */
class ReadOnlyDb {
  private constructor(private readonly db: SqliteConnection) {}

  static async open(file: string): Promise<ReadOnlyDb> {
    return new ReadOnlyDb(await SqliteConnection.open(file, { readOnly: true }));
  }

  all(sql: string, params: readonly Value[] = []): Promise<Row[]> {
    return this.db.all<Row>(sql, params);
  }

  async one(sql: string, params: readonly Value[] = []): Promise<Row> {
    return (await this.db.get<Row>(sql, params)) ?? {};
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/** Renders rows as a small left/right aligned text table (numbers right-aligned). */
export function textTable(rows: readonly Row[], columns: readonly string[], indent = '    '): string {
  const cell = (v: Value): string => (v === null ? '' : typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(6).replace(/0+$/, '').replace(/\.$/, '') : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: readonly string[], numeric: readonly boolean[]): string =>
    indent + values.map((v, i) => (numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  const numeric = columns.map((c) => rows.length > 0 && rows.every((r) => r[c] === null || typeof r[c] === 'number'));
  return [line(columns, numeric), line(widths.map((w) => '-'.repeat(w)), numeric), ...rows.map((r) => line(columns.map((c) => cell(r[c])), numeric))].join('\n');
}

const n = (v: Value | undefined): string => (typeof v === 'number' ? v.toLocaleString('en-US') : String(v ?? 0));
/** `3 days`, `1 day`. */
const count = (v: Value | undefined, one: string, many = `${one}s`): string => `${n(v)} ${v === 1 ? one : many}`;

/** What one mart's section says; `missing` when the table is not there at all. */
interface Section {
  readonly mart: string;
  readonly missing: boolean;
  readonly text: string;
}

async function section(db: ReadOnlyDb, mart: string, body: () => Promise<string>): Promise<Section> {
  const exists = await db.one(`SELECT count(*) AS n FROM sqlite_master WHERE type IN ('table','view') AND name = ?`, [mart]);
  if (exists.n === 0) return { mart, missing: true, text: `  ${mart}: MISSING (the table does not exist)` };
  return { mart, missing: false, text: await body() };
}

/** A volumes mart (cars registered or deregistered per day): totals and the busiest days. */
function volumesSection(db: ReadOnlyDb, mart: string, label: string): Promise<Section> {
  return section(db, mart, async () => {
    const t = await db.one(`SELECT count(*) AS days, sum(cnt) AS total, min(day) AS first, max(day) AS last FROM ${mart}`);
    const busiest = await db.all(`SELECT day, cnt FROM ${mart} ORDER BY cnt DESC, day LIMIT 3`);
    return [
      `  ${mart}: ${n(t.total)} ${label} on ${count(t.days, 'day')}, ${t.first ?? '-'} .. ${t.last ?? '-'}; busiest days:`,
      textTable(busiest, ['day', 'cnt']),
    ].join('\n');
  });
}

/** cars_deliveries: totals and the top cities. */
function deliveriesSection(db: ReadOnlyDb): Promise<Section> {
  return section(db, 'cars_deliveries', async () => {
    const t = await db.one(
      `SELECT sum(deliveries_number) AS total, count(DISTINCT delivery_date) AS days, count(DISTINCT city) AS cities,
              min(delivery_date) AS first, max(delivery_date) AS last FROM cars_deliveries`,
    );
    const cities = await db.all(
      `SELECT city, sum(deliveries_number) AS deliveries FROM cars_deliveries GROUP BY city ORDER BY deliveries DESC, city LIMIT 5`,
    );
    return [
      `  cars_deliveries: ${n(t.total)} deliveries on ${count(t.days, 'day')} in ${count(t.cities, 'city', 'cities')}, ${t.first ?? '-'} .. ${t.last ?? '-'}; top cities:`,
      textTable(cities, ['city', 'deliveries']),
    ].join('\n');
  });
}

/** type_share: its span, and the biggest brands of the latest month up to `month`. */
function typeShareSection(db: ReadOnlyDb, month: string): Promise<Section> {
  return section(db, 'type_share', async () => {
    const t = await db.one(`SELECT count(DISTINCT month) AS months, count(DISTINCT brand) AS brands, min(month) AS first, max(month) AS last FROM type_share`);
    const latest = await db.all(
      `SELECT month, brand, b2b_customers, b2c_customers, b2b_share, b2c_share FROM type_share
        WHERE month = (SELECT max(month) FROM type_share WHERE month <= ?)
        ORDER BY b2b_customers + b2c_customers DESC, brand LIMIT 5`,
      [month],
    );
    return [
      `  type_share: ${count(t.brands, 'brand')} over ${count(t.months, 'month')}, ${t.first ?? '-'} .. ${t.last ?? '-'}; biggest brands in ${latest[0]?.month ?? month}:`,
      textTable(latest, ['month', 'brand', 'b2b_customers', 'b2c_customers', 'b2b_share', 'b2c_share']),
    ].join('\n');
  });
}

/** type_distribution: every term's row. */
function distributionSection(db: ReadOnlyDb): Promise<Section> {
  return section(db, 'type_distribution', async () => {
    const rows = await db.all(`SELECT term, b2b_distribution, b2c_distribution FROM type_distribution ORDER BY term`);
    return [`  type_distribution: subscriptions per term by customer type:`, textTable(rows, ['term', 'b2b_distribution', 'b2c_distribution'])].join('\n');
  });
}

/** The summary text of every mart, and whether all of them exist; `month` (YYYY-MM-01) picks type_share's sample month. */
export async function summariseMarts(warehouseDb: string, opts: { month: string }): Promise<{ text: string; complete: boolean }> {
  const db = await ReadOnlyDb.open(warehouseDb);
  try {
    // One after another: the sections share one connection, and their order is the contract's (MARTS).
    const sections: Section[] = [];
    sections.push(await volumesSection(db, 'infleeted_cars_volumes', 'cars registered'));
    sections.push(await volumesSection(db, 'defleeted_cars_volumes', 'cars deregistered'));
    sections.push(await deliveriesSection(db));
    sections.push(await typeShareSection(db, opts.month));
    sections.push(await distributionSection(db));
    return { text: sections.map((s) => s.text).join('\n\n'), complete: sections.every((s) => !s.missing) };
  } finally {
    await db.close();
  }
}

/** One line on the raw layer: rows per table and rejects, or undefined if the tables are not there. */
export async function summariseRaw(warehouseDb: string): Promise<string | undefined> {
  const db = await ReadOnlyDb.open(warehouseDb);
  try {
    const parts: string[] = [];
    for (const table of ['cars', 'customers', 'subscriptions', 'rejects']) {
      const exists = await db.one(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?`, [table]);
      if (exists.n === 0) continue;
      const t = await db.one(`SELECT count(*) AS n FROM ${table}`);
      parts.push(`${table} ${n(t.n)}`);
    }
    return parts.length > 0 ? parts.join(', ') : undefined;
  } finally {
    await db.close();
  }
}
