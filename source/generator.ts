/**
 * The seeded dataset generator. Every row is a pure function of (seed, entity, index), so the same seed
 * and sizes give the same bytes, and the paged API can start at any cursor without materialising the
 * rows before it. Ids are UUID-shaped with the row number in the first 8 hex digits, so ordering by id
 * is ordering by index. Time is anchored to fixed dates, never the wall clock.
 */
import { CAR_MODELS, CITIES, COMPANY_FORMS, COMPANY_WORDS, FIRST_NAMES, LAST_NAMES, STREET_STEMS, STREET_SUFFIXES } from './germanData.js';
import type { City, CarModel } from './germanData.js';
import { Prng, mix32 } from './prng.js';
import type { EntityName } from '../operators/entities.js';

/** One source row, with the original field names. */
export type Row = Record<string, string | number | null>;

/** How many rows of each entity the dataset has. */
export interface DatasetSizes {
  readonly cars: number;
  readonly customers: number;
  readonly subscriptions: number;
}

/** Registrations fall in [2022-01-01, 2024-01-01) UTC. */
const REG_FROM_MS = Date.UTC(2022, 0, 1);
const REG_SPAN_MS = Date.UTC(2024, 0, 1) - REG_FROM_MS;
const DAY_MS = 86_400_000;
/** Share of customers that are companies. */
const B2B_SHARE = 0.1;
/** Share of cars with a deregistration date (some of them after the data's end: planned). */
const DEREGISTERED_SHARE = 0.3;

const ENTITY_CODE: Readonly<Record<EntityName, number>> = { cars: 1, customers: 2, subscriptions: 3 };

function weighted<T extends { weight: number }>(items: readonly T[]): (r: number) => T {
  const total = items.reduce((s, i) => s + i.weight, 0);
  const cumulative = items.map(
    (
      (acc) => (i: T) =>
        (acc += i.weight / total)
    )(0),
  );
  return (r) => {
    for (let k = 0; k < items.length; k++) if (r < cumulative[k]) return items[k];
    return items[items.length - 1];
  };
}
const pickCity: (r: number) => City = weighted(CITIES);
const pickModel: (r: number) => CarModel = weighted(CAR_MODELS);

/** The row's own PRNG stream; its first draws are the id, so {@link idOf} needs no other field. */
function rowPrng(seed: number, entity: EntityName, index: number): Prng {
  return new Prng(mix32(seed, ENTITY_CODE[entity], index));
}

function uuidFrom(index: number, p: Prng): string {
  const variant = '89ab'[p.nextU32() & 3];
  return `${(index + 1).toString(16).padStart(8, '0')}-${p.hex(4)}-4${p.hex(4).slice(1)}-${variant}${p.hex(4).slice(1)}-${p.hex(12)}`;
}

/** The id of row `index` of `entity`. */
export function idOf(entity: EntityName, index: number, seed: number): string {
  return uuidFrom(index, rowPrng(seed, entity, index));
}

/** The row index encoded in a generated id, or undefined when `id` is not one of ours. */
export function indexOfId(id: string): number | undefined {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)) return undefined;
  return parseInt(id.slice(0, 8), 16) - 1;
}

/** ISO 8601 without zone, with 'T' and microseconds, as the original API prints datetimes. */
export function isoMicros(ms: number, micros: number): string {
  // Hand-rolled (civil-from-days) instead of Date#toISOString: the generator's hottest function.
  const days = Math.floor(ms / DAY_MS);
  let secs = Math.floor((ms - days * DAY_MS) / 1000);
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const hh = Math.floor(secs / 3600);
  secs -= hh * 3600;
  const mm = Math.floor(secs / 60);
  const ss = secs - mm * 60;
  const us = micros < 10 ? `00000${micros}` : micros < 100 ? `0000${micros}` : micros < 1000 ? `000${micros}` : micros < 10000 ? `00${micros}` : micros < 100000 ? `0${micros}` : `${micros}`;
  return `${y}-${D2[m]}-${D2[d]}T${D2[hh]}:${D2[mm]}:${D2[ss]}.${us}`;
}
const D2: readonly string[] = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));

const PLATE_LETTERS = 'ABCDEFGHJKLMNPRSTUVWXYZ';
const VIN_CHARS = 'ABCDEFGHJKLMNPRSTUVWXYZ0123456789';

function carRow(index: number, seed: number): { row: Row; registeredMs: number; model: CarModel } {
  const p = rowPrng(seed, 'cars', index);
  const id = uuidFrom(index, p);
  const m = pickModel(p.next());
  const city = pickCity(p.next());
  let vin = '';
  for (let k = 0; k < 17; k++) vin += VIN_CHARS[p.int(0, VIN_CHARS.length - 1)];
  const plate = `${city.plate}-${PLATE_LETTERS[p.int(0, 22)]}${PLATE_LETTERS[p.int(0, 22)]} ${p.int(1, 9999)}`;
  const registeredMs = REG_FROM_MS + Math.floor(p.next() * REG_SPAN_MS);
  const deregistered = p.next() < DEREGISTERED_SHARE;
  const deregMs = registeredMs + p.int(180, 900) * DAY_MS + p.int(0, DAY_MS - 1);
  const row: Row = {
    id,
    vin,
    brand: m.brand,
    model: m.model,
    engine_type: m.engine,
    license_plate: plate,
    registration_date: isoMicros(registeredMs, p.int(0, 999_999)),
    deregistration_date: deregistered ? isoMicros(deregMs, p.int(0, 999_999)) : null,
  };
  return { row, registeredMs, model: m };
}

function customerRow(index: number, seed: number): Row {
  const p = rowPrng(seed, 'customers', index);
  const id = uuidFrom(index, p);
  const b2b = p.next() < B2B_SHARE;
  const city = pickCity(p.next());
  const zip = String(p.int(city.zipFrom, city.zipTo)).padStart(5, '0');
  const street = `${p.pick(STREET_STEMS)}${p.pick(STREET_SUFFIXES)}`;
  const house = p.next() < 0.1 ? `${p.int(1, 40)}/${p.int(1, 9)}` : String(p.int(1, 180)) + (p.next() < 0.1 ? 'a' : '');
  const last = p.pick(LAST_NAMES);
  const company = p.next() < 0.5 ? `${last} ${p.pick(COMPANY_WORDS)} ${p.pick(COMPANY_FORMS)}` : `${last} ${p.pick(COMPANY_FORMS)}`;
  return {
    id,
    first_name: b2b ? null : p.pick(FIRST_NAMES),
    second_name: b2b ? null : last,
    type: b2b ? 'b2b' : 'b2c',
    company_name: b2b ? company : null,
    address_city: city.name,
    address_zip: zip,
    address_street: street,
    address_street_house: house,
  };
}

/**
 * What a subscription needs of its car (id, model, registration) without building the car's strings:
 * the car's stream is advanced past the city, VIN and plate draws exactly as {@link carRow} does, so
 * the values are the same. A subscription row costs about half as much this way.
 */
function carCore(index: number, seed: number): { id: string; registeredMs: number; model: CarModel } {
  const p = rowPrng(seed, 'cars', index);
  const id = uuidFrom(index, p);
  const model = pickModel(p.next());
  // city (1), VIN (17) and plate (3) draws of carRow.
  for (let k = 0; k < 21; k++) p.nextU32();
  const registeredMs = REG_FROM_MS + Math.floor(p.next() * REG_SPAN_MS);
  return { id, registeredMs, model };
}

function subscriptionRow(index: number, sizes: DatasetSizes, seed: number): Row {
  const p = rowPrng(seed, 'subscriptions', index);
  const id = uuidFrom(index, p);
  const customerIndex = p.int(0, sizes.customers - 1);
  const carIndex = p.int(0, sizes.cars - 1);
  // A subscription is created after its car is registered (some reach into 2024: future starts).
  const car = carCore(carIndex, seed);
  const createdMs = car.registeredMs + p.int(0, 60) * DAY_MS + p.int(0, DAY_MS - 1);
  const startMs = createdMs + p.int(1, 30) * DAY_MS;
  const micros = p.int(0, 999_999);
  return {
    id,
    customer_id: idOf('customers', customerIndex, seed),
    car_id: car.id,
    created_at: isoMicros(createdMs, micros),
    start_date: isoMicros(startMs, micros),
    term_month: p.next() < 0.15 ? 'six' : 'twelve',
    monthly_rate: p.pick(car.model.rates),
  };
}

/** Row `index` of `entity`; needs the sizes because subscriptions refer to existing customers and cars. */
export function generateRow(entity: EntityName, index: number, sizes: DatasetSizes, seed: number): Row {
  if (entity === 'cars') return carRow(index, seed).row;
  if (entity === 'customers') return customerRow(index, seed);
  if (sizes.customers < 1 || sizes.cars < 1) throw new RangeError('subscriptions need at least one customer and one car');
  return subscriptionRow(index, sizes, seed);
}

/** The rows of `entity` from index `from` on, generated lazily. */
export function* generateRows(entity: EntityName, sizes: DatasetSizes, seed: number, from = 0): Generator<Row> {
  for (let i = Math.max(0, from); i < sizes[entity]; i++) yield generateRow(entity, i, sizes, seed);
}
