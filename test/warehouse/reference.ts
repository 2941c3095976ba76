/**
 * An independent computation of every mart, in plain TypeScript from one source snapshot, written from
 * the contract's definitions (not from the SQL): used to check the warehouse row by row.
 */
import type { Row, Snapshot } from './fixtures.js';

/** The UTC day of a source date or timestamp ('T' or ' ' separator, optional zone). */
export function utcDay(value: string | number | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const text = String(value).trim();
  if (/(Z|[+-]\d{2}:?\d{2})$/.test(text) && text.length > 10) return new Date(text.replace(' ', 'T')).toISOString().slice(0, 10);
  return text.slice(0, 10);
}

/** A day plus n months, clamped to the target month's last day (PostgreSQL's date + interval). */
export function addMonthsClamped(day: string, n: number): string {
  const [y, m, d] = day.split('-').map(Number);
  const targetFirst = new Date(Date.UTC(y, m - 1 + n, 1));
  const lastDay = new Date(Date.UTC(targetFirst.getUTCFullYear(), targetFirst.getUTCMonth() + 1, 0)).getUTCDate();
  return new Date(Date.UTC(targetFirst.getUTCFullYear(), targetFirst.getUTCMonth(), Math.min(d, lastDay))).toISOString().slice(0, 10);
}

function lastDayOfMonth(month: string): string {
  const [y, m] = month.split('-').map(Number);
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
}

function nextMonth(month: string): string {
  const [y, m] = month.split('-').map(Number);
  return new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 10);
}

/** The marts as the contract defines them, for partitions from `fromDay` / `fromMonth` on. */
export interface ReferenceMarts {
  infleeted_cars_volumes: { day: string; cnt: number }[];
  defleeted_cars_volumes: { day: string; cnt: number }[];
  cars_deliveries: { delivery_date: string; city: string | null; deliveries_number: number }[];
  type_share: { month: string; brand: string | null; b2b_customers: number; b2c_customers: number; b2b_share: number; b2c_share: number }[];
  type_distribution: { term: string; b2b_distribution: number; b2c_distribution: number }[];
}

function countBy(keys: (string | null)[]): Map<string | null, number> {
  const m = new Map<string | null, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

const byText = (a: string | null, b: string | null) => (a ?? '').localeCompare(b ?? '') || (a === null ? -1 : b === null ? 1 : 0);

/** Computes every mart from `snapshot`. */
export function referenceMarts(snapshot: Snapshot, fromDay: string, fromMonth: string): ReferenceMarts {
  const cars = new Map<string, Row>(snapshot.cars.map((c) => [String(c.id), c]));
  const customers = new Map<string, Row>(snapshot.customers.map((c) => [String(c.id), c]));
  const known = snapshot.subscriptions.filter((s) => cars.has(String(s.car_id)) && customers.has(String(s.customer_id)));

  const volumes = (field: string) =>
    [...countBy(snapshot.cars.map((c) => utcDay(c[field])).filter((d): d is string => d !== null && d >= fromDay))]
      .map(([day, cnt]) => ({ day: day!, cnt }))
      .sort((a, b) => a.day.localeCompare(b.day));

  const deliveries = new Map<string, { delivery_date: string; city: string | null; deliveries_number: number }>();
  for (const s of known) {
    const day = utcDay(s.start_date);
    if (day === null || day < fromDay) continue;
    const city = (customers.get(String(s.customer_id))!.address_city ?? null) as string | null;
    const key = `${day}|${city}`;
    const row = deliveries.get(key) ?? { delivery_date: day, city, deliveries_number: 0 };
    row.deliveries_number++;
    deliveries.set(key, row);
  }

  // type_share: month by month from fromMonth to the last month any subscription is active in.
  const spans = known.flatMap((s) => {
    const start = utcDay(s.start_date);
    const months = s.term_month === 'six' ? 6 : s.term_month === 'twelve' ? 12 : null;
    if (start === null || months === null) return [];
    const customer = customers.get(String(s.customer_id))!;
    return [{ start, end: addMonthsClamped(start, months), brand: (cars.get(String(s.car_id))!.brand ?? null) as string | null, customer: String(s.customer_id), type: customer.type }];
  });
  const lastEnd = spans.reduce((m, s) => (s.end > m ? s.end : m), '');
  const shares: ReferenceMarts['type_share'] = [];
  for (let month = fromMonth; month < lastEnd; month = nextMonth(month)) {
    const last = lastDayOfMonth(month);
    const perBrand = new Map<string | null, { b2b: Set<string>; b2c: Set<string> }>();
    for (const s of spans) {
      if (!(s.start <= last && s.end > month)) continue;
      const entry = perBrand.get(s.brand) ?? { b2b: new Set<string>(), b2c: new Set<string>() };
      if (s.type === 'b2b') entry.b2b.add(s.customer);
      if (s.type === 'b2c') entry.b2c.add(s.customer);
      perBrand.set(s.brand, entry);
    }
    for (const [brand, { b2b, b2c }] of perBrand) {
      const total = b2b.size + b2c.size;
      if (total === 0) continue;
      const b2bShare = Math.round((b2b.size / total) * 1e6) / 1e6;
      shares.push({ month, brand, b2b_customers: b2b.size, b2c_customers: b2c.size, b2b_share: b2bShare, b2c_share: Math.round((1 - b2bShare) * 1e6) / 1e6 });
    }
  }
  shares.sort((a, b) => a.month.localeCompare(b.month) || byText(a.brand, b.brand));

  const distribution = new Map<string, { term: string; b2b_distribution: number; b2c_distribution: number }>();
  for (const s of known) {
    if (s.term_month === null || s.term_month === undefined) continue;
    const type = customers.get(String(s.customer_id))!.type;
    const row = distribution.get(String(s.term_month)) ?? { term: String(s.term_month), b2b_distribution: 0, b2c_distribution: 0 };
    if (type === 'b2b') row.b2b_distribution++;
    if (type === 'b2c') row.b2c_distribution++;
    distribution.set(row.term, row);
  }

  return {
    infleeted_cars_volumes: volumes('registration_date'),
    defleeted_cars_volumes: volumes('deregistration_date'),
    cars_deliveries: [...deliveries.values()].sort((a, b) => a.delivery_date.localeCompare(b.delivery_date) || byText(a.city, b.city)),
    type_share: shares,
    type_distribution: [...distribution.values()].filter((r) => r.b2b_distribution + r.b2c_distribution > 0).sort((a, b) => a.term.localeCompare(b.term)),
  };
}
