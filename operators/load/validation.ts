/**
 * Row validation per entity, with zod: a row either parses into the raw table's fields or gets a
 * one-line reason naming the field and the value ("engine_type: 'steam' is not one of electric|...").
 * Values are kept as received (dates stay the source's text); only their shape is checked.
 */
import { z } from 'zod';
import { ENTITY_SPECS, type Entity, type FieldSpec } from '../entities.js';

/** ISO 8601 date or date-time: ' ' or 'T' separator, optional seconds, fraction and zone. */
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Two ASCII digits at i..i+1 as a number, or -1. */
function two(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * The source's own shapes ('YYYY-MM-DD' and 'YYYY-MM-DD[T ]HH:MM:SS.ffffff'), checked by char codes:
 * the regex and Date below are a visible share of validation, and every subscription carries two dates.
 * Returns undefined for any other shape, which the general check decides.
 */
function commonIsoShape(s: string): boolean | undefined {
  const n = s.length;
  if (n !== 10 && n !== 26) return undefined;
  const y1 = two(s, 0);
  const y2 = two(s, 2);
  const mo = two(s, 5);
  const d = two(s, 8);
  if (y1 < 0 || y2 < 0 || mo < 0 || d < 0 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return undefined;
  if (mo < 1 || mo > 12 || d < 1) return false;
  const y = y1 * 100 + y2;
  // Years 0-99: the general check's Date.UTC reads them as 1900-1999; let it decide them.
  if (y < 100) return undefined;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (d > (mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo])) return false;
  if (n === 10) return true;
  const sep = s.charCodeAt(10);
  if ((sep !== 84 && sep !== 32) || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58 || s.charCodeAt(19) !== 46) return undefined;
  const hh = two(s, 11);
  const mm = two(s, 14);
  const ss = two(s, 17);
  if (hh < 0 || mm < 0 || ss < 0) return undefined;
  for (let i = 20; i < 26; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  return hh <= 23 && mm <= 59 && ss <= 59;
}

/** True when `text` is an ISO 8601 date or date-time naming a real calendar day and time. */
export function isIsoDateTime(text: string): boolean {
  const common = commonIsoShape(text);
  if (common !== undefined) return common;
  const m = ISO_DATE.exec(text);
  if (!m) return false;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1) return false;
  if (d > new Date(Date.UTC(y, mo, 0)).getUTCDate()) return false;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || (m[6] !== undefined && Number(m[6]) > 59))) return false;
  return true;
}

const key = z.string({ error: 'must be a string' }).refine((s) => s.trim() !== '', { error: 'is empty' });
const date = z.string({ error: 'must be an ISO 8601 date string' }).refine(isIsoDateTime, { error: 'is not an ISO 8601 date or date-time' });
const rate = z.number({ error: 'must be a number' }).refine(Number.isFinite, { error: 'must be a finite number' });

/** The zod schema of one declared field. */
function fieldSchema(field: FieldSpec): z.ZodType {
  let schema: z.ZodType;
  switch (field.type) {
    case 'key': schema = key; break;
    case 'text': schema = z.string({ error: field.nullable ? 'must be a string or null' : 'must be a string' }); break;
    case 'datetime': schema = date; break;
    case 'number': schema = rate; break;
    case 'enum': schema = z.enum(field.values!, { error: `is not one of ${field.values!.join('|')}` }); break;
  }
  return field.nullable ? schema.nullable().optional() : schema;
}

function rowSchema(entity: Entity): z.ZodType {
  return z.object(Object.fromEntries(ENTITY_SPECS[entity].fields.map((f) => [f.name, fieldSchema(f)])));
}

/** The schema of each entity's rows, from the declaration (unknown extra fields are dropped). */
export const ROW_SCHEMAS: Readonly<Record<Entity, z.ZodType>> = {
  cars: rowSchema('cars'),
  customers: rowSchema('customers'),
  subscriptions: rowSchema('subscriptions'),
};

/** A validated row of an entity: its fields; an absent optional field is undefined (load it as null). */
export type ValidRow = Record<string, string | number | null | undefined>;

/** The outcome of validating one row. */
export type Validation = { readonly ok: true; readonly row: ValidRow } | { readonly ok: false; readonly reason: string };

/** What a value is, without the value: for rows and fields whose content may be personal data. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * The fields whose values a reason must not quote: rejects' reasons are logged and kept beside the
 * rows, and a quoted name would outlive its erasure (docs/design/personal-data.md).
 */
const PERSONAL: Readonly<Record<Entity, ReadonlySet<string>>> = {
  cars: new Set(ENTITY_SPECS.cars.personal),
  customers: new Set(ENTITY_SPECS.customers.personal),
  subscriptions: new Set(ENTITY_SPECS.subscriptions.personal),
};

function show(value: unknown): string {
  if (value === undefined) return 'missing';
  const s = JSON.stringify(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

type FieldCheck = (value: unknown) => boolean;
const isKey: FieldCheck = (v) => typeof v === 'string' && v.trim() !== '';
const isText: FieldCheck = (v) => typeof v === 'string';
const isDate: FieldCheck = (v) => typeof v === 'string' && isIsoDateTime(v);
const isRate: FieldCheck = (v) => typeof v === 'number' && Number.isFinite(v);

/** The plain predicate of one declared field: what its zod schema accepts. */
function fieldCheck(field: FieldSpec): FieldCheck {
  let check: FieldCheck;
  switch (field.type) {
    case 'key': check = isKey; break;
    case 'text': check = isText; break;
    case 'datetime': check = isDate; break;
    case 'number': check = isRate; break;
    case 'enum': {
      const values: readonly string[] = field.values!;
      check = (v) => values.includes(v as string);
      break;
    }
  }
  if (!field.nullable) return check;
  return (v) => v === undefined || v === null || check(v);
}

/**
 * The same rules as ROW_SCHEMAS as plain predicates: zod's safeParse builds a fresh output object per
 * row, which is most of the load's validation time. A row passing these passes its zod schema too; one
 * failing them is handed to zod, which stays the schema of record and words the reason. Both derive
 * from the declaration, field by field (fieldSchema and fieldCheck); the load tests cover each rule.
 */
const FAST_CHECKS: Readonly<Record<Entity, ReadonlyArray<readonly [string, FieldCheck]>>> = {
  cars: ENTITY_SPECS.cars.fields.map((f) => [f.name, fieldCheck(f)] as const),
  customers: ENTITY_SPECS.customers.fields.map((f) => [f.name, fieldCheck(f)] as const),
  subscriptions: ENTITY_SPECS.subscriptions.fields.map((f) => [f.name, fieldCheck(f)] as const),
};

/**
 * The row itself when it is valid for `entity` (its fields as received; fields the entity does not
 * have are ignored by the load), else undefined: then {@link validateRow} gives the reason.
 */
export function fastValidRow(entity: Entity, raw: unknown): ValidRow | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const row = raw as Record<string, unknown>;
  const checks = FAST_CHECKS[entity];
  for (let i = 0; i < checks.length; i++) {
    const check = checks[i];
    if (!check[1](row[check[0]])) return undefined;
  }
  return row as ValidRow;
}

/**
 * Validates one parsed row of `entity`; the reason names the first bad field and its value, or only
 * the value's kind for a personal field (and for a row that is not an object, which may hold anything).
 */
export function validateRow(entity: Entity, raw: unknown): Validation {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: `row: not a JSON object (${kindOf(raw)})` };
  const parsed = ROW_SCHEMAS[entity].safeParse(raw);
  // zod's output object is used as is (absent optional fields stay undefined; the load binds them as
  // null): copying it would double the garbage per row.
  if (parsed.success) return { ok: true, row: parsed.data as ValidRow };
  const issue = parsed.error.issues[0];
  const field = String(issue.path[0] ?? 'row');
  const value = (raw as Record<string, unknown>)[field];
  if (value === undefined) return { ok: false, reason: `${field}: is missing` };
  if (PERSONAL[entity].has(field)) return { ok: false, reason: `${field}: ${issue.message} (${kindOf(value)}; personal data, not shown)` };
  return { ok: false, reason: `${field}: ${issue.message} (value ${show(value)})` };
}
