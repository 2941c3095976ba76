/**
 * The model template language: `{{ name(arg, key='value', list=['a', 'b']) }}` calls a macro and
 * pastes the SQL it returns. Arguments are literals only (quoted strings, numbers, lists), never
 * run values: those stay bound parameters (`:start_day`), converted to the driver's placeholders here.
 */
import type { Dialect } from './dialect/Dialect.js';
import { ModelError } from './ModelError.js';

/** One literal macro argument. */
export type MacroValue = string | number | readonly string[];

/** A macro call's arguments: positional in order, and named. */
export interface MacroArgs {
  readonly positional: readonly MacroValue[];
  readonly named: Readonly<Record<string, MacroValue>>;
}

/** Column definitions and indexes a generating macro declares for the table it fills. */
export interface TableShape {
  /** Column definitions, e.g. `hk_car TEXT NOT NULL`. */
  columns?: string[];
  /** Primary key columns. */
  primaryKey?: string[];
  /** Extra indexes, each a list of columns. */
  indexes?: string[][];
  /**
   * Those of `indexes` whose entries every load writes in key order, as it writes the table's rows
   * (led by load_date, then the order the load inserts in): a first load keeps them, where building
   * them after would sort entries that arrive sorted.
   */
  appendedIndexes?: string[][];
}

/**
 * A read a generating macro stages before the model's write transaction (Dialect.stagedReads): the ds's
 * rows of one raw table, sorted into a temporary table the model's statements read.
 */
export interface StagingStatement {
  /** The temporary table it fills. */
  readonly table: string;
  /** Fills the temporary table from every row of the raw partition. */
  readonly sql: string;
  /**
   * The same from only the rows the partition's load did not copy from the previous partition, found by
   * the rowid ranges it recorded (`raw_partitions.fresh_rowids`): what the load runs when the copies
   * cannot change its result (copiedRows.ts).
   */
  readonly freshSql: string;
  /** The raw table it reads (an entity's). */
  readonly source: string;
  /** True when skipping copied rows also needs the rows' business keys distinct (a satellite compares each key's one row). */
  readonly perKey: boolean;
}

/** What a macro sees while rendering one model. */
export interface RenderContext {
  /** The model being rendered (its table name). */
  readonly model: string;
  readonly dialect: Dialect;
  /** Resolves a model name to its table and records the dependency. */
  ref(name: string): string;
  /** Resolves a raw source table and records the dependency. */
  source(name: string): string;
  /** Set by generating macros (hub, link, sat). */
  shape: TableShape;
  /** Reads generating macros stage before the model's write transaction (Dialect.stagedReads). */
  readonly staging: StagingStatement[];
}

/** A macro renders SQL text from literal arguments. */
export type Macro = (args: MacroArgs, ctx: RenderContext) => string;

const CALL = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(([\s\S]*?)\)\s*\}\}/g;

function parseValue(text: string, model: string, call: string): MacroValue {
  const t = text.trim();
  if (/^'(?:[^']|'')*'$/.test(t)) return t.slice(1, -1).replace(/''/g, "'");
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  if (t.startsWith('[') && t.endsWith(']')) {
    const inner = t.slice(1, -1).trim();
    if (inner === '') return [];
    return splitTopLevel(inner).map((part) => {
      const v = parseValue(part, model, call);
      if (typeof v !== 'string') throw new ModelError(`model '${model}': list items must be quoted strings in '${call}'`, model, call);
      return v;
    });
  }
  throw new ModelError(`model '${model}': bad macro argument '${t}' in '${call}'`, model, call);
}

/** Splits on commas outside quotes and brackets. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (const ch of text) {
    if (ch === "'") quoted = !quoted;
    else if (!quoted && ch === '[') depth++;
    else if (!quoted && ch === ']') depth--;
    if (!quoted && depth === 0 && ch === ',') {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  if (current.trim() !== '') parts.push(current);
  return parts;
}

function parseArgs(text: string, model: string, call: string): MacroArgs {
  const positional: MacroValue[] = [];
  const named: Record<string, MacroValue> = {};
  for (const part of splitTopLevel(text)) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)([\s\S]*)$/.exec(part);
    if (m) named[m[1]] = parseValue(m[2], model, call);
    else positional.push(parseValue(part, model, call));
  }
  return { positional, named };
}

/** Renders every `{{ macro(...) }}` of `text`; unknown macros are errors naming the macro. */
export function renderTemplate(text: string, macros: Readonly<Record<string, Macro>>, ctx: RenderContext): string {
  return text.replace(CALL, (call, name: string, args: string) => {
    const macro = macros[name];
    if (!macro) throw new ModelError(`model '${ctx.model}': unknown macro '${name}' in '${call.trim()}'`, ctx.model, call);
    return macro(parseArgs(args, ctx.model, call), ctx);
  });
}

/** Applies `fn` to the parts of `sql` outside string literals and comments. */
function mapOutsideLiterals(sql: string, fn: (code: string) => string): string {
  const pieces = sql.split(/('(?:[^']|'')*'|--[^\n]*)/);
  return pieces.map((p, i) => (i % 2 === 1 ? p : fn(p))).join('');
}

/** Named parameters (`:name`) used by `sql`, in order of first use. */
export function parameterNames(sql: string): string[] {
  const names = new Set<string>();
  mapOutsideLiterals(sql, (code) => {
    for (const m of code.matchAll(/(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1]);
    return code;
  });
  return [...names];
}

/** Rewrites `:name` parameters to the dialect's placeholders; the values are bound, never pasted. */
export function toPlaceholders(sql: string, dialect: Dialect): string {
  return mapOutsideLiterals(sql, (code) => code.replace(/(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)/g, (_m, n: string) => dialect.placeholder(n)));
}

/** Splits a rendered script into statements on `;` outside literals and comments; drops comment-only parts. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let current = '';
  const pieces = sql.split(/('(?:[^']|'')*'|--[^\n]*)/);
  pieces.forEach((p, i) => {
    if (i % 2 === 1) {
      if (!p.startsWith('--')) current += p;
      return;
    }
    const parts = p.split(';');
    parts.forEach((part, j) => {
      current += part;
      if (j < parts.length - 1) {
        out.push(current);
        current = '';
      }
    });
  });
  out.push(current);
  return out.map((s) => s.trim()).filter((s) => s !== '');
}
