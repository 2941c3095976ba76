/**
 * The model registry: every .sql file under sql/ — models in sql/core and sql/marts, singular data
 * tests in sql/tests — with its header config, its rendered SQL and its dependencies (the ref() and
 * source() calls), so tasks and DAGs can be built from the graph like dbt's.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { personalFieldNames } from '../entities.js';
import type { Dialect } from './dialect/Dialect.js';
import { sqliteDialect } from './dialect/sqlite.js';
import { MACROS, renderGenericTest, type GenericTestSpec } from './macros.js';
import { ModelError } from './ModelError.js';
import { parameterNames, renderTemplate, splitStatements, type RenderContext, type StagingStatement, type TableShape } from './template.js';

/** How a model's result is written. */
export type Materialization = 'view' | 'table' | 'incremental' | 'partition' | 'keyed';

/** A model's header config (`-- key: value` lines at the top of its file). */
export interface ModelConfig {
  /**
   * view | table (rebuilt) | incremental (insert-only) | partition (replace a range of days or months) |
   * keyed (a table kept equal to its SELECT by re-inserting only the keys its upstream loads touched).
   */
  readonly materialized: Materialization;
  /** Partition grain of a partition model. */
  readonly partitionBy?: 'day' | 'month';
  /** The column holding the partition key ('YYYY-MM-DD', months as their first day). */
  readonly partitionColumn?: string;
  /**
   * Of a partition model (`staged: true`): its rows are computed into a temporary table before its write
   * transaction, on an engine with staged reads (SQLite), so other models write while a long SELECT
   * runs; the write lock is then held for the delete and the copy only. Default false.
   */
  readonly staged: boolean;
  /** Column definitions; generating macros (hub, sat, link) supply their own. */
  readonly columns?: readonly string[];
  /** Primary key columns. */
  readonly primaryKey?: readonly string[];
  /** Extra indexes, each a list of columns. */
  readonly indexes?: readonly (readonly string[])[];
  /** Generic tests on this model's table. */
  readonly tests: readonly GenericTestSpec[];
  /** A condition limiting this model's generic tests to the rows a run wrote (e.g. `load_date = :load_date` on insert-only tables). */
  readonly testScope?: string;
  /** Of a data test: 'error' fails its task, 'warn' only logs. */
  readonly severity: 'error' | 'warn';
  /** One line on what it is. */
  readonly description?: string;
}

/** One model: a table or view built from one .sql file. */
export interface Model {
  readonly name: string;
  /** Its folder under sql/: 'core' or 'marts'. */
  readonly layer: string;
  readonly file: string;
  readonly config: ModelConfig;
  /** Statements to run, rendered for the registry's dialect, still with `:name` parameters. */
  readonly statements: readonly string[];
  /** Models it reads (ref()). */
  readonly refs: readonly string[];
  /** Raw tables it reads (source()). */
  readonly sources: readonly string[];
  /** Column definitions of its table, from the header or the generating macro. */
  readonly shape: TableShape;
  /**
   * Of an incremental model on an engine with staged reads: statements that fill temporary tables its
   * statements read, run before its write transaction on the same connection (materialize.ts).
   */
  readonly staging?: readonly StagingStatement[];
}

/** One data test: SQL returning the offending rows. */
export interface DataTest {
  readonly name: string;
  /** The SQL file, or the model whose header declared it. */
  readonly file: string;
  readonly sql: string;
  readonly refs: readonly string[];
  readonly sources: readonly string[];
  readonly severity: 'error' | 'warn';
  readonly description?: string;
}

/** The default sql/ folder of this repository, found relative to this module. */
export const DEFAULT_SQL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'sql');

const HEADER_KEYS = new Set(['test_scope', 'materialized', 'partition_by', 'partition_column', 'staged', 'columns', 'primary_key', 'indexes', 'tests', 'severity', 'description']);

function parseHeader(name: string, text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '') continue;
    if (!t.startsWith('--')) break;
    const m = /^--\s*([a-z_]+)\s*:\s*(.*)$/.exec(t);
    if (!m) continue; // a free comment line
    if (!HEADER_KEYS.has(m[1])) throw new ModelError(`model '${name}': unknown header key '${m[1]}'`, name, t);
    out[m[1]] = out[m[1]] ? `${out[m[1]]}; ${m[2].trim()}` : m[2].trim();
  }
  return out;
}

function csv(text: string | undefined): string[] | undefined {
  return text === undefined ? undefined : text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function parseTests(name: string, text: string | undefined): GenericTestSpec[] {
  if (!text) return [];
  return text
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const m = /^(not_null|unique|accepted_values|relationships)\s*\((.*)\)$/.exec(s);
      if (!m) throw new ModelError(`model '${name}': bad test '${s}'`, name, s);
      return { kind: m[1] as GenericTestSpec['kind'], args: m[2].split(',').map((a) => a.trim()) };
    });
}

function parseConfig(name: string, header: Record<string, string>, isTest: boolean): ModelConfig {
  const materialized = (header.materialized ?? (isTest ? 'view' : '')) as Materialization;
  if (!['view', 'table', 'incremental', 'partition', 'keyed'].includes(materialized)) {
    throw new ModelError(`model '${name}': bad materialized '${header.materialized ?? ''}'`, name, header.materialized);
  }
  const partitionBy = header.partition_by as ModelConfig['partitionBy'];
  if (materialized === 'partition') {
    if (partitionBy !== 'day' && partitionBy !== 'month') throw new ModelError(`model '${name}': bad partition_by '${header.partition_by ?? ''}'`, name, header.partition_by);
    if (!header.partition_column) throw new ModelError(`model '${name}': partition model without partition_column`, name);
  }
  if (header.staged !== undefined && header.staged !== 'true' && header.staged !== 'false') throw new ModelError(`model '${name}': bad staged '${header.staged}' (true or false)`, name, header.staged);
  const staged = header.staged === 'true';
  if (staged && materialized !== 'partition') throw new ModelError(`model '${name}': staged is for partition models, not '${materialized}'`, name, header.staged);
  const severity = (header.severity ?? 'error') as ModelConfig['severity'];
  if (severity !== 'error' && severity !== 'warn') throw new ModelError(`model '${name}': bad severity '${severity}'`, name, severity);
  return {
    materialized,
    partitionBy,
    partitionColumn: header.partition_column,
    staged,
    columns: csv(header.columns),
    primaryKey: csv(header.primary_key),
    indexes: header.indexes?.split(';').map((i) => csv(i)!).filter((i) => i.length > 0),
    tests: parseTests(name, header.tests),
    testScope: header.test_scope,
    severity,
    description: header.description,
  };
}

/** Every .sql file one folder down (the folder is its layer), in name order within a layer. */
function sqlFiles(sqlDir: string): { layer: string; file: string }[] {
  const files: { layer: string; file: string }[] = [];
  for (const layer of readdirSync(sqlDir, { withFileTypes: true })) {
    if (!layer.isDirectory()) continue;
    for (const f of readdirSync(path.join(sqlDir, layer.name)).sort()) {
      if (f.endsWith('.sql')) files.push({ layer: layer.name, file: path.join(sqlDir, layer.name, f) });
    }
  }
  return files;
}

/** One .sql file read, its header parsed and its template rendered, with what the render noted. */
interface RenderedFile {
  readonly name: string;
  readonly layer: string;
  readonly file: string;
  readonly config: ModelConfig;
  readonly statements: string[];
  readonly refs: string[];
  readonly sources: string[];
  /** The table shape the template's macros declared. */
  readonly shape: TableShape;
  /** What the template's macros staged. */
  readonly staging: readonly StagingStatement[];
}

function renderFile(layer: string, file: string, dialect: Dialect): RenderedFile {
  const name = path.basename(file, '.sql');
  const text = readFileSync(file, 'utf8');
  const config = parseConfig(name, parseHeader(name, text), layer === 'tests');
  const refs = new Set<string>();
  const sources = new Set<string>();
  const ctx: RenderContext = {
    model: name,
    dialect,
    ref: (r) => (refs.add(r), r),
    source: (s) => (sources.add(s), s),
    shape: {},
    staging: [],
  };
  const statements = splitStatements(renderTemplate(text, MACROS, ctx));
  if (statements.length === 0) throw new ModelError(`model '${name}': no SQL in ${file}`, name, file);
  return { name, layer, file, config, statements, refs: [...refs], sources: [...sources], shape: ctx.shape, staging: ctx.staging };
}

/** Adds a rendered file as a data test (the tests/ layer) or a model, after checking it is a well-formed one. */
function addFile(models: Map<string, Model>, tests: Map<string, DataTest>, f: RenderedFile): void {
  const { name, file, config, statements } = f;
  if (f.layer === 'tests') {
    if (statements.length !== 1) throw new ModelError(`data test '${name}': one SELECT expected`, name, file);
    if (tests.has(name)) throw new ModelError(`duplicate data test '${name}'`, name, file);
    tests.set(name, { name, file, sql: statements[0], refs: f.refs, sources: f.sources, severity: config.severity, description: config.description });
    return;
  }
  if (models.has(name)) throw new ModelError(`duplicate model '${name}' (${file})`, name, file);
  const shape: TableShape = {
    columns: f.shape.columns ?? (config.columns ? [...config.columns] : undefined),
    primaryKey: f.shape.primaryKey ?? (config.primaryKey ? [...config.primaryKey] : undefined),
    indexes: [...(f.shape.indexes ?? []), ...(config.indexes ?? []).map((i) => [...i])],
    appendedIndexes: f.shape.appendedIndexes,
  };
  if (config.materialized !== 'view' && !shape.columns) throw new ModelError(`model '${name}': a ${config.materialized} model needs a 'columns' header`, name, file);
  if (config.materialized === 'keyed') {
    if (statements.length < 2) {
      throw new ModelError(`model '${name}': a keyed model needs two SELECTs: its rows, then its changed keys (and optionally more: its rows built whole in key order)`, name, file);
    }
    if (shape.primaryKey?.length !== 1) throw new ModelError(`model '${name}': a keyed model needs a one-column primary_key`, name, file);
  } else if (config.materialized !== 'incremental' && statements.length !== 1) throw new ModelError(`model '${name}': one SELECT expected`, name, file);
  models.set(name, { name, layer: f.layer, file, config, statements, refs: f.refs, sources: f.sources, shape, staging: f.staging });
}

/** The data tests the models' `tests` headers declare (not_null, unique, ...), named after kind, model and columns. */
function addGenericTests(models: ReadonlyMap<string, Model>, tests: Map<string, DataTest>): void {
  for (const m of models.values()) {
    for (const spec of m.config.tests) {
      const { sql, refs } = renderGenericTest(m.name, spec, m.name, m.config.testScope);
      const cols = spec.kind === 'not_null' || spec.kind === 'unique' ? spec.args : spec.args.slice(0, 1);
      const testName = `${spec.kind}__${m.name}__${cols.join('_').replace(/\W+/g, '_')}`;
      tests.set(testName, { name: testName, file: m.file, sql, refs: [m.name, ...refs], sources: [], severity: 'error' });
    }
  }
}

/**
 * The test no mart escapes: it fails when a mart's table has a column named like a personal field
 * (`first_name`, `customer_first_name`, ...), so personal data cannot reach a mart by a new column.
 * Added to every model of the marts/ layer rather than declared in headers, which a new mart could forget.
 */
function addPersonalColumnTests(models: ReadonlyMap<string, Model>, tests: Map<string, DataTest>, dialect: Dialect): void {
  const like = personalFieldNames().map((f) => `lower(c.name) LIKE '%${f}%'`);
  if (like.length === 0) return;
  for (const m of models.values()) {
    if (m.layer !== 'marts') continue;
    const name = `no_personal_columns__${m.name}`;
    const sql = `SELECT '${m.name}' AS mart, c.name AS column_name FROM ${dialect.columnsOf(m.name)} c WHERE ${like.join(' OR ')}`;
    tests.set(name, { name, file: m.file, sql, refs: [m.name], sources: [], severity: 'error', description: `mart '${m.name}' has no column named like a personal field` });
  }
}

/** A keyed model's `:loads__X` must name an insert-only model it reads: only those write the load log. */
function checkLoadParameters(models: ReadonlyMap<string, Model>): void {
  for (const m of models.values()) {
    if (m.config.materialized !== 'keyed') continue;
    for (const p of parameterNames(m.statements[1])) {
      if (!p.startsWith('loads__')) continue;
      const up = p.slice('loads__'.length);
      if (!m.refs.includes(up) || models.get(up)?.config.materialized !== 'incremental') {
        throw new ModelError(`model '${m.name}': ':${p}' must name an incremental model it refs, got '${up}'`, m.name, p);
      }
    }
  }
}

/** All models and data tests of one sql/ folder. */
export class ModelRegistry {
  /** Models by name. */
  readonly models: ReadonlyMap<string, Model>;
  /** Data tests by name (singular files and generic header tests). */
  readonly tests: ReadonlyMap<string, DataTest>;

  /** The same folder rendered for other dialects, made on first use. */
  private readonly rendered = new Map<string, ModelRegistry>();

  private constructor(
    models: Map<string, Model>,
    tests: Map<string, DataTest>,
    /** The folder the models were read from. */
    readonly sqlDir: string,
    /** The dialect they were rendered for. */
    readonly dialect: Dialect,
  ) {
    this.models = models;
    this.tests = tests;
    this.rendered.set(dialect.name, this);
  }

  /** The same models and tests rendered for `dialect` (this registry when it is its own). */
  forDialect(dialect: Dialect): ModelRegistry {
    let r = this.rendered.get(dialect.name);
    if (!r) this.rendered.set(dialect.name, (r = ModelRegistry.load(this.sqlDir, dialect)));
    return r;
  }

  /** Loads and renders every .sql file under `sqlDir`; throws ModelError on the first bad one or an unknown ref. */
  static load(sqlDir: string = DEFAULT_SQL_DIR, dialect: Dialect = sqliteDialect): ModelRegistry {
    const models = new Map<string, Model>();
    const tests = new Map<string, DataTest>();
    for (const { layer, file } of sqlFiles(sqlDir)) addFile(models, tests, renderFile(layer, file, dialect));
    addGenericTests(models, tests);
    addPersonalColumnTests(models, tests, dialect);
    checkLoadParameters(models);
    for (const item of [...models.values(), ...tests.values()]) {
      for (const r of item.refs) if (!models.has(r)) throw new ModelError(`'${item.name}' refs unknown model '${r}'`, item.name, r);
    }
    return new ModelRegistry(models, tests, sqlDir, dialect);
  }

  /** A model by name; throws ModelError quoting an unknown name. */
  model(name: string): Model {
    const m = this.models.get(name.includes('/') ? name.split('/').pop()! : name);
    if (!m) throw new ModelError(`unknown model '${name}'`, name);
    return m;
  }

  /** A data test by name; throws ModelError quoting an unknown name. */
  test(name: string): DataTest {
    const t = this.tests.get(name);
    if (!t) throw new ModelError(`unknown data test '${name}'`, name);
    return t;
  }

  /** Model names in dependency order (each after the models it refs), optionally only those matching. */
  ordered(filter: (m: Model) => boolean = () => true): string[] {
    const out: string[] = [];
    const seen = new Set<string>();
    const visit = (name: string) => {
      if (seen.has(name)) return;
      seen.add(name);
      for (const r of this.model(name).refs) visit(r);
      out.push(name);
    };
    for (const name of [...this.models.keys()].sort()) visit(name);
    return out.filter((n) => filter(this.model(n)));
  }
}
