/**
 * The macros models call: ref/source (dependencies), date arithmetic (delegated to the dialect), and
 * the Data Vault loading patterns written once (hub, link, satellite, latest-row predicate), plus the
 * generic data tests. The vault patterns follow AutomateDV: insert-only, keys hashed at load.
 */
import { PII_HASHDIFF_COLUMN } from '../load/fields.js';
import { RAW_PARTITIONS_TABLE } from '../load/rawPartitions.js';
import { DESCRIPTIVE_FIELDS, PERSONAL_FIELDS } from '../load/hashing.js';
import type { Entity } from '../entities.js';
import { ModelError } from './ModelError.js';
import type { Macro, MacroArgs, MacroValue, RenderContext } from './template.js';

function arg(args: MacroArgs, ctx: RenderContext, name: string, index?: number): MacroValue {
  const v = args.named[name] ?? (index === undefined ? undefined : args.positional[index]);
  if (v === undefined) throw new ModelError(`model '${ctx.model}': macro argument '${name}' is missing`, ctx.model, name);
  return v;
}

function str(args: MacroArgs, ctx: RenderContext, name: string, index?: number): string {
  const v = arg(args, ctx, name, index);
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string') throw new ModelError(`model '${ctx.model}': macro argument '${name}' must be a string, got '${JSON.stringify(v)}'`, ctx.model, name);
  return v;
}

function list(args: MacroArgs, ctx: RenderContext, name: string, fallback?: readonly string[]): readonly string[] {
  const v = args.named[name];
  if (v === undefined && fallback) return fallback;
  if (!Array.isArray(v)) throw new ModelError(`model '${ctx.model}': macro argument '${name}' must be a list, got '${JSON.stringify(v)}'`, ctx.model, name);
  return v as readonly string[];
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
function ident(ctx: RenderContext, value: string): string {
  if (!IDENT.test(value)) throw new ModelError(`model '${ctx.model}': bad identifier '${value}'`, ctx.model, value);
  return value;
}

/** The record source written to vault rows loaded from a raw table. */
export function recordSource(rawTable: string): string {
  return `raw.${rawTable}`;
}

/** Descriptive fields of an entity: the satellite's payload, the same list the load's hashdiff covers. */
function entityFields(ctx: RenderContext, entity: string): readonly string[] {
  const fields = DESCRIPTIVE_FIELDS[entity as Entity];
  if (!fields) throw new ModelError(`model '${ctx.model}': unknown entity '${entity}'`, ctx.model, entity);
  return fields;
}

/**
 * A satellite's payload and the raw column of its hashdiff: the entity's descriptive fields (part
 * 'main', the default) or its personal fields (part 'personal': the PII satellite, apart so that
 * erasure touches one table and no mart can read it; docs/design/personal-data.md).
 */
function satPart(args: MacroArgs, ctx: RenderContext, entity: string): { fields: readonly string[]; hashdiff: string } {
  const part = args.named.part === undefined ? 'main' : str(args, ctx, 'part');
  if (part === 'main') return { fields: entityFields(ctx, entity), hashdiff: 'hashdiff' };
  if (part !== 'personal') throw new ModelError(`model '${ctx.model}': part '${part}' is not 'main' or 'personal'`, ctx.model, part);
  entityFields(ctx, entity);
  const fields = PERSONAL_FIELDS[entity as Entity];
  if (fields.length === 0) throw new ModelError(`model '${ctx.model}': entity '${entity}' has no personal fields`, ctx.model, entity);
  return { fields, hashdiff: PII_HASHDIFF_COLUMN };
}

/**
 * The ds's raw rows with a hash key as CTE `r`, sorted once by the table's primary key (`key`, which
 * ends with that hash key) before the vault table is probed: the probes and the inserts then walk the
 * table's primary key B-tree in order, each page read once, instead of one random page per row (hash
 * keys are random), which with a page cache smaller than the table meant a page read per row
 * (docs/design/warehouse-memory.md). The rows leave `r` in key order, so the insert appends to the
 * B-tree without a second sort.
 *
 * With staged reads (SQLite) the sort, most of a load's time, fills a temporary table in a staging
 * statement run before the write transaction (beside another model's writing), and `r` reads that
 * table in the order its rows were inserted. The statement comes in two forms: every row of the
 * partition, or only those its load did not copy from the previous partition (copiedRows.ts chooses);
 * `perKey`: skipping copied rows also needs the partition's keys distinct (a satellite's read).
 */
function keyOrdered(ctx: RenderContext, raw: string, key: readonly string[], columns: readonly string[], opts: { where?: string; perKey?: boolean } = {}): string {
  const hk = key[key.length - 1];
  const select = `SELECT ${[...key, ...columns.filter((c) => !key.includes(c))].map((c) => `r.${c}`).join(', ')}`;
  const where = `r.processing_date = :ds AND r.${hk} IS NOT NULL${opts.where ? ` AND ${opts.where}` : ''} ORDER BY ${key.map((c) => `r.${c}`).join(', ')}`;
  const sorted = `${select} FROM ${raw} r\n  WHERE ${where}`;
  if (!ctx.dialect.stagedReads) return `WITH r AS MATERIALIZED (${sorted})\n`;
  const name = `_staged_${ctx.staging.length}`;
  // The rows the load did not copy, by the rowid ranges it recorded, each read as a range of the table.
  const fresh =
    `${select} FROM ${RAW_PARTITIONS_TABLE} f CROSS JOIN json_each(f.fresh_rowids) j CROSS JOIN ${raw} r\n` +
    `  WHERE f.entity = '${raw}' AND f.processing_date = :ds AND r.rowid BETWEEN j.value->>0 AND j.value->>1 AND ${where}`;
  ctx.staging.push({ table: name, sql: `CREATE TEMP TABLE ${name} AS ${sorted}`, freshSql: `CREATE TEMP TABLE ${name} AS ${fresh}`, source: raw, perKey: opts.perKey ?? false });
  return `WITH r AS (SELECT * FROM ${ctx.dialect.tempTable(name)})\n`;
}

/**
 * hub(hash_key='hk_car', business_key='car_id', sources=['cars.id', 'subscriptions.car_id']):
 * every key of the ds's raw partitions not yet in the hub; the first source is the entity's own and
 * is loaded first, so its record source wins. Raw tables carry the hash key under the hub's column name.
 */
const hub: Macro = (args, ctx) => {
  const hk = ident(ctx, str(args, ctx, 'hash_key'));
  const bk = ident(ctx, str(args, ctx, 'business_key'));
  ctx.shape = {
    columns: [`${hk} TEXT NOT NULL`, `${bk} TEXT NOT NULL`, 'load_date TEXT NOT NULL', 'record_source TEXT NOT NULL'],
    primaryKey: [hk],
    // The keys one load added (data tests scoped to a load); appended to, load dates only grow.
    indexes: [['load_date']],
    appendedIndexes: [['load_date']],
  };
  return list(args, ctx, 'sources')
    .map((spec) => {
      const [table, column] = spec.split('.');
      const raw = ctx.source(ident(ctx, table));
      ident(ctx, column ?? '');
      return (
        `INSERT INTO ${ctx.model} (${hk}, ${bk}, load_date, record_source)\n` +
        keyOrdered(ctx, raw, [hk], [column], { where: `r.${column} IS NOT NULL` }) +
        `SELECT r.${hk}, r.${column}, :load_date, '${recordSource(raw)}' FROM r\n` +
        `WHERE NOT EXISTS (SELECT 1 FROM ${ctx.model} h WHERE h.${hk} = r.${hk})\n` +
        `ON CONFLICT DO NOTHING;`
      );
    })
    .join('\n');
};

/**
 * link(hash_key='hk_subscription_link', source='subscriptions', keys=['hk_subscription', ...],
 * required=['customer_id', 'car_id']): every new key combination of the ds's raw partition; rows
 * missing a required business key have no link (their subscription counts as unknown).
 */
const link: Macro = (args, ctx) => {
  const hk = ident(ctx, str(args, ctx, 'hash_key'));
  const raw = ctx.source(ident(ctx, str(args, ctx, 'source')));
  const keys = list(args, ctx, 'keys').map((k) => ident(ctx, k));
  const required = list(args, ctx, 'required', []).map((k) => ident(ctx, k));
  ctx.shape = {
    columns: [`${hk} TEXT NOT NULL`, ...keys.map((k) => `${k} TEXT NOT NULL`), 'load_date TEXT NOT NULL', 'record_source TEXT NOT NULL'],
    // Clustered by the driving key: the current view reads a key's links, the latest first, from the
    // table itself. The link hash covers the driving key, so (driving key, link hash) is as unique as
    // the hash alone; keyed by the hash alone, the table needed an index by driving key (1M rows: a sort
    // of 1.3 s of CPU on the first load).
    primaryKey: [keys[0], hk],
    // By load date, with every key: the links one load added, covering for the scoped relationships
    // tests (a lookup of each row by its random link hash read a random page per row); a load appends
    // to it in order. By each other key: the driving keys a changed customer or car reaches (keyed
    // timelines re-derive only those).
    indexes: [['load_date', ...keys], ...keys.slice(1).map((k) => [k, keys[0]])],
    appendedIndexes: [['load_date', ...keys]],
  };
  const cols = [hk, ...keys];
  return (
    `INSERT INTO ${ctx.model} (${cols.join(', ')}, load_date, record_source)\n` +
    keyOrdered(ctx, raw, [keys[0], hk], keys, { where: required.map((c) => `r.${c} IS NOT NULL`).join(' AND ') || undefined }) +
    `SELECT ${cols.map((c) => `r.${c}`).join(', ')}, :load_date, '${recordSource(raw)}' FROM r\n` +
    `WHERE NOT EXISTS (SELECT 1 FROM ${ctx.model} k WHERE k.${keys[0]} = r.${keys[0]} AND k.${hk} = r.${hk})\n` +
    `ON CONFLICT DO NOTHING;`
  );
};

/** is_latest('sat_car', 'hk_car', 's'): true for the row of alias `s` that is its key's latest version. */
const isLatest: Macro = (args, ctx) => {
  const table = ctx.ref(ident(ctx, str(args, ctx, 'table', 0)));
  const hk = ident(ctx, str(args, ctx, 'hash_key', 1));
  const alias = ident(ctx, str(args, ctx, 'alias', 2));
  return `${alias}.load_date = (SELECT max(x.load_date) FROM ${table} x WHERE x.${hk} = ${alias}.${hk})`;
};

/**
 * sat(hash_key='hk_car', entity='cars', real=['monthly_rate'], part='main'): inserts a row for each key
 * of the ds's raw partition whose hashdiff differs from the key's latest row at or before this
 * load_date, so a re-run of the same ds inserts nothing and unchanged keys never get a new version.
 * part='personal' makes the PII satellite: the personal fields, versioned by their own hashdiff.
 */
const sat: Macro = (args, ctx) => {
  const hk = ident(ctx, str(args, ctx, 'hash_key'));
  const entity = str(args, ctx, 'entity');
  const raw = ctx.source(ident(ctx, entity));
  const real = new Set(list(args, ctx, 'real', []));
  const { fields, hashdiff } = satPart(args, ctx, entity);
  ctx.shape = {
    columns: [
      `${hk} TEXT NOT NULL`,
      'load_date TEXT NOT NULL',
      'hashdiff TEXT NOT NULL',
      'record_source TEXT NOT NULL',
      ...fields.map((f) => `${f} ${real.has(f) ? 'REAL' : 'TEXT'}`),
    ],
    primaryKey: [hk, 'load_date'],
    // The keys one load changed: what keyed timelines re-derive and scoped data tests read.
    indexes: [['load_date']],
    appendedIndexes: [['load_date']],
  };
  return (
    `INSERT INTO ${ctx.model} (${hk}, load_date, hashdiff, record_source, ${fields.join(', ')})\n` +
    keyOrdered(ctx, raw, [hk], [hashdiff, ...fields], { perKey: true }) +
    `SELECT r.${hk}, :load_date, r.${hashdiff}, '${recordSource(raw)}', ${fields.map((f) => `r.${f}`).join(', ')}\n` +
    `FROM r\n` +
    // One probe per raw row: the key's latest row at or before this load, read straight from the
    // primary key B-tree (hash key, load_date) backwards; "no such row" and "other hashdiff" insert.
    `WHERE NOT coalesce((SELECT s.hashdiff = r.${hashdiff} FROM ${ctx.model} s WHERE s.${hk} = r.${hk} AND s.load_date <= :load_date\n` +
    `    ORDER BY s.load_date DESC LIMIT 1), FALSE)\n` +
    `ON CONFLICT DO NOTHING;`
  );
};

/**
 * sat_current(sat='sat_car', hub='hub_car', hash_key='hk_car', business_key='car_id', entity='cars'):
 * the latest version per key with the source's field names (the business key as `id`).
 */
const satCurrent: Macro = (args, ctx) => {
  const satTable = ctx.ref(ident(ctx, str(args, ctx, 'sat')));
  const hubTable = ctx.ref(ident(ctx, str(args, ctx, 'hub')));
  const hk = ident(ctx, str(args, ctx, 'hash_key'));
  const bk = ident(ctx, str(args, ctx, 'business_key'));
  const fields = entityFields(ctx, str(args, ctx, 'entity'));
  return (
    `SELECT h.${bk} AS id, ${fields.map((f) => `s.${f}`).join(', ')}, s.${hk}, s.load_date, s.hashdiff\n` +
    `FROM ${satTable} s JOIN ${hubTable} h ON h.${hk} = s.${hk}\n` +
    `WHERE s.load_date = (SELECT max(x.load_date) FROM ${satTable} x WHERE x.${hk} = s.${hk})`
  );
};

/**
 * loads('sat_car'): in a keyed model's changed-keys SELECT, the load dates of that upstream's loads
 * since the model's last run, as a one-column subquery (`load_date IN {{ loads('sat_car') }}`).
 */
const loads: Macro = (args, ctx) => ctx.dialect.jsonTextValues(`:loads__${ident(ctx, ctx.ref(str(args, ctx, 'model', 0)))}`);

/** The macros every model may call. */
export const MACROS: Readonly<Record<string, Macro>> = {
  ref: (args, ctx) => ctx.ref(str(args, ctx, 'name', 0)),
  source: (args, ctx) => ctx.source(str(args, ctx, 'name', 0)),
  day: (args, ctx) => ctx.dialect.day(str(args, ctx, 'expr', 0)),
  month_start: (args, ctx) => ctx.dialect.monthStart(str(args, ctx, 'expr', 0)),
  add_days: (args, ctx) => ctx.dialect.addDays(str(args, ctx, 'expr', 0), str(args, ctx, 'n', 1)),
  add_months_to_month_start: (args, ctx) => ctx.dialect.addMonthsToMonthStart(str(args, ctx, 'expr', 0), str(args, ctx, 'n', 1)),
  add_months_clamped: (args, ctx) => ctx.dialect.addMonthsClamped(str(args, ctx, 'expr', 0), str(args, ctx, 'n', 1)),
  hub,
  link,
  sat,
  sat_current: satCurrent,
  is_latest: isLatest,
  loads,
};

/** A generic data test declared in a model's header, e.g. `unique(day)`. */
export interface GenericTestSpec {
  readonly kind: 'not_null' | 'unique' | 'accepted_values' | 'relationships';
  readonly args: readonly string[];
}

/** Renders a generic test on `table` to SQL returning the offending rows. */
export function renderGenericTest(table: string, spec: GenericTestSpec, model: string, scope?: string): { sql: string; refs: string[] } {
  const and = scope ? ` AND (${scope})` : '';
  const bad = (why: string) => new ModelError(`model '${model}': ${why} in test '${spec.kind}(${spec.args.join(', ')})'`, model, spec.kind);
  const cols = spec.args.map((a) => a.trim());
  switch (spec.kind) {
    case 'not_null':
      if (cols.length === 0) throw bad('no column');
      return { sql: `SELECT * FROM ${table} WHERE (${cols.map((c) => `${c} IS NULL`).join(' OR ')})${and}`, refs: [] };
    case 'unique':
      if (cols.length === 0) throw bad('no column');
      return { sql: `SELECT ${cols.join(', ')}, count(*) AS n FROM ${table}${scope ? ` WHERE ${scope}` : ''} GROUP BY ${cols.join(', ')} HAVING count(*) > 1`, refs: [] };
    case 'accepted_values': {
      const [col, ...values] = cols;
      if (!col || values.length === 0) throw bad('need a column and values');
      return { sql: `SELECT ${col}, count(*) AS n FROM ${table} WHERE ${col} IS NOT NULL AND ${col} NOT IN (${values.join(', ')})${and} GROUP BY ${col}`, refs: [] };
    }
    case 'relationships': {
      const [col, target] = cols;
      const [toTable, toCol] = (target ?? '').split('.');
      if (!col || !toTable || !toCol) throw bad("need 'column, table.column'");
      // Grouped first, then probed: the keys reach the target's B-tree in order, each page read once,
      // instead of one random probe per row (hash keys are random; docs/design/warehouse-memory.md).
      return {
        sql:
          `WITH k AS MATERIALIZED (SELECT t.${col} AS k, count(*) AS n FROM ${table} t WHERE t.${col} IS NOT NULL${and} GROUP BY t.${col} ORDER BY t.${col})\n` +
          `SELECT k.k AS ${col}, k.n FROM k WHERE NOT EXISTS (SELECT 1 FROM ${toTable} p WHERE p.${toCol} = k.k)`,
        refs: [toTable],
      };
    }
  }
}
