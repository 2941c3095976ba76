/**
 * Row validation per entity, with zod: a row either parses into the raw table's fields or gets a
 * one-line reason naming the field and the value ("engine_type: 'steam' is not one of electric|...").
 * Values are kept as received (dates stay the source's text); only their shape is checked.
 */
import { z } from 'zod';
import type { Entity } from '../../scheduler/settings.js';

/** ISO 8601 date or date-time: ' ' or 'T' separator, optional seconds, fraction and zone. */
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/** True when `text` is an ISO 8601 date or date-time naming a real calendar day and time. */
export function isIsoDateTime(text: string): boolean {
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

const id = z.string({ error: 'must be a string' }).refine((s) => s.trim() !== '', { error: 'is empty' });
const text = z.string({ error: 'must be a string or null' }).nullable().optional();
const reqText = z.string({ error: 'must be a string' });
const date = z.string({ error: 'must be an ISO 8601 date string' }).refine(isIsoDateTime, { error: 'is not an ISO 8601 date or date-time' });
const optDate = date.nullable().optional();
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: `is not one of ${values.join('|')}` });

/** The schema of each entity's rows (unknown extra fields are dropped). */
export const ROW_SCHEMAS = {
  cars: z.object({
    id,
    vin: text,
    brand: text,
    model: text,
    engine_type: oneOf(['electric', 'hybrid', 'gasoline', 'diesel']),
    license_plate: text,
    registration_date: date,
    deregistration_date: optDate,
  }),
  customers: z.object({
    id,
    first_name: text,
    second_name: text,
    type: oneOf(['b2b', 'b2c']),
    company_name: text,
    address_city: text,
    address_zip: text,
    address_street: text,
    address_street_house: text,
  }),
  subscriptions: z.object({
    id,
    customer_id: reqText.refine((s) => s.trim() !== '', { error: 'is empty' }),
    car_id: reqText.refine((s) => s.trim() !== '', { error: 'is empty' }),
    created_at: date,
    start_date: date,
    term_month: oneOf(['six', 'twelve']),
    monthly_rate: z.number({ error: 'must be a number' }).refine(Number.isFinite, { error: 'must be a finite number' }),
  }),
} as const;

/** A validated row of an entity: its fields; an absent optional field is undefined (load it as null). */
export type ValidRow = Record<string, string | number | null | undefined>;

/** The outcome of validating one row. */
export type Validation = { readonly ok: true; readonly row: ValidRow } | { readonly ok: false; readonly reason: string };

function show(value: unknown): string {
  if (value === undefined) return 'missing';
  const s = JSON.stringify(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Validates one parsed row of `entity`; the reason names the first bad field and its value. */
export function validateRow(entity: Entity, raw: unknown): Validation {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: `row: not a JSON object (${show(raw)})` };
  const parsed = ROW_SCHEMAS[entity].safeParse(raw);
  // zod's output object is used as is (absent optional fields stay undefined; the load binds them as
  // null): copying it would double the garbage per row.
  if (parsed.success) return { ok: true, row: parsed.data as ValidRow };
  const issue = parsed.error.issues[0];
  const field = String(issue.path[0] ?? 'row');
  const value = (raw as Record<string, unknown>)[field];
  if (value === undefined) return { ok: false, reason: `${field}: is missing` };
  return { ok: false, reason: `${field}: ${issue.message} (value ${show(value)})` };
}
