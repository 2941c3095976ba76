/**
 * The company's entities, declared once: each one's source fields (type, accepted values, nullable),
 * its business key, the hubs its rows feed, the fields its hashdiff covers and which fields are
 * personal data (kept in a satellite of their own, never in a mart, erasable). Validation
 * (load/validation.ts), the raw tables' vault columns (load/fields.ts, load/hashing.ts), the sample
 * source's fields and OpenAPI document (source/) and the ingest DAG's task list derive from it, so a
 * field is added or renamed here and nowhere else in TypeScript. The SQL models name their columns
 * themselves (sql/core/*.sql, AutomateDV style): those are read, not derived.
 */

/** What a field may hold: `key` a non-empty string (an id), `text` a string, `datetime` an ISO 8601
 * date or date-time string, `enum` one of `values`, `number` a finite number. */
export type FieldType = 'key' | 'text' | 'datetime' | 'enum' | 'number';

/** One source field of an entity. */
export interface FieldSpec {
  /** The source's field name, also the raw table's column. */
  readonly name: string;
  readonly type: FieldType;
  /** For `enum`: the accepted values. */
  readonly values?: readonly [string, ...string[]];
  /** Null or absent is accepted (and loaded as NULL). */
  readonly nullable: boolean;
  /** For a `key` naming another entity's row: that entity (its hub key goes into the raw row and a link). */
  readonly references?: EntityName;
  /**
   * Personal data (a name, a street address): kept in the entity's PII satellite, not its main one,
   * never in a mart, and nulled by `customers erase` (docs/design/personal-data.md).
   */
  readonly personal?: boolean;
}

/** One entity as the source serves it and the vault keeps it. */
export interface EntitySpec {
  /** The source's fields, in the contract's order (the original API's). */
  readonly fields: readonly FieldSpec[];
  /** The business key field (hashed into the hub key). */
  readonly businessKey: string;
  /** The hub's name without `hub_`: the hub key column is `hk_<hub>`. */
  readonly hub: string;
  /** A link over the business key and the referenced entities' keys: its key column is `hk_<link>`. */
  readonly link?: string;
  /** The descriptive fields the main satellite holds and its hashdiff covers, in order (every field but the keys and the personal ones). */
  readonly hashdiff: readonly string[];
  /** The personal fields, in order: the PII satellite's payload, covered by a hashdiff of their own. Empty when none. */
  readonly personal: readonly string[];
}

/** The entities, in ingest order. */
export const ENTITIES = ['cars', 'customers', 'subscriptions'] as const;

/** An entity's name: its source route segment, raw table and lake folder. */
export type EntityName = (typeof ENTITIES)[number];
/** The same name, as the operators call it. */
export type Entity = EntityName;

const key = (name: string, references?: EntityName): FieldSpec => ({ name, type: 'key', nullable: false, references });
const text = (name: string): FieldSpec => ({ name, type: 'text', nullable: true });
const personalText = (name: string): FieldSpec => ({ ...text(name), personal: true });
const datetime = (name: string, nullable = false): FieldSpec => ({ name, type: 'datetime', nullable });
const oneOf = (name: string, values: readonly [string, ...string[]]): FieldSpec => ({ name, type: 'enum', values, nullable: false });

/** Every field but the keys and the personal ones: what the main satellite describes. */
function descriptive(fields: readonly FieldSpec[]): readonly string[] {
  return fields.filter((f) => f.type !== 'key' && !f.personal).map((f) => f.name);
}

function entity(spec: Omit<EntitySpec, 'hashdiff' | 'businessKey' | 'personal'>): EntitySpec {
  return { ...spec, businessKey: 'id', hashdiff: descriptive(spec.fields), personal: spec.fields.filter((f) => f.personal).map((f) => f.name) };
}

/** The declaration (the contract's "Source API" fields). */
export const ENTITY_SPECS: Readonly<Record<EntityName, EntitySpec>> = {
  cars: entity({
    hub: 'car',
    fields: [
      key('id'),
      text('vin'),
      text('brand'),
      text('model'),
      oneOf('engine_type', ['electric', 'hybrid', 'gasoline', 'diesel']),
      text('license_plate'),
      datetime('registration_date'),
      datetime('deregistration_date', true),
    ],
  }),
  customers: entity({
    hub: 'customer',
    fields: [
      key('id'),
      personalText('first_name'),
      personalText('second_name'),
      oneOf('type', ['b2b', 'b2c']),
      personalText('company_name'),
      text('address_city'),
      personalText('address_zip'),
      personalText('address_street'),
      personalText('address_street_house'),
    ],
  }),
  subscriptions: entity({
    hub: 'subscription',
    link: 'subscription_link',
    fields: [
      key('id'),
      key('customer_id', 'customers'),
      key('car_id', 'cars'),
      datetime('created_at'),
      datetime('start_date'),
      oneOf('term_month', ['six', 'twelve']),
      { name: 'monthly_rate', type: 'number', nullable: false },
    ],
  }),
};

/** A hash key column of a raw row and the fields hashed into it, in order. */
export interface HashKeySpec {
  readonly column: string;
  readonly of: readonly string[];
}

/** The hash key columns of an entity's raw rows: its hub key, the referenced hubs' keys, its link's key. */
export function hashKeysOf(entity: EntityName): readonly HashKeySpec[] {
  const spec = ENTITY_SPECS[entity];
  const refs = spec.fields.filter((f) => f.references !== undefined);
  const keys: HashKeySpec[] = [{ column: `hk_${spec.hub}`, of: [spec.businessKey] }];
  for (const f of refs) keys.push({ column: `hk_${ENTITY_SPECS[f.references!].hub}`, of: [f.name] });
  if (spec.link) keys.push({ column: `hk_${spec.link}`, of: [spec.businessKey, ...refs.map((f) => f.name)] });
  return keys;
}

/** Every personal field name of every entity (what no mart column may be named like). */
export function personalFieldNames(): readonly string[] {
  return [...new Set(ENTITIES.flatMap((e) => ENTITY_SPECS[e].personal))];
}

/** An entity's source field names, in order. */
export function fieldNames(entity: EntityName): readonly string[] {
  return ENTITY_SPECS[entity].fields.map((f) => f.name);
}

/** The source's routes of an entity: the cursor-paged `/v1/<entity>` and the original unpaged `/<entity>/`. */
export interface SourceRoutes {
  readonly paged: string;
  readonly unpaged: string;
}

/** The routes the source serves `entity` on. */
export function sourceRoutes(entity: EntityName): SourceRoutes {
  return { paged: `/v1/${entity}`, unpaged: `/${entity}/` };
}

/** True when `name` is one of {@link ENTITIES}. */
export function isEntity(name: string): name is EntityName {
  return (ENTITIES as readonly string[]).includes(name);
}
