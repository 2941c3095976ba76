/**
 * The one parser of DRIVETRAIN_WAREHOUSE_URL: `sqlite:FILE` (a path, relative to the working
 * directory) or `postgres://user[:password]@host[:port]/db[?schema=NAME]` (`postgresql://` too). The
 * settings schema validates with it and the warehouse registry opens what it returns, so the two never
 * disagree about what a value means. Knows no table: where the warehouse lives, not what it holds.
 */

/** Where the warehouse lives. */
export type WarehouseTarget =
  | { readonly engine: 'sqlite'; readonly file: string }
  | {
      readonly engine: 'postgres';
      /** The URL as `pg` takes it, without the `schema` parameter (which `pg` does not know). */
      readonly connectionString: string;
      /** The schema the warehouse's tables live in (search_path); created when missing. */
      readonly schema: string;
    };

/** A schema name used unquoted in SQL: a plain identifier, so no quoting can go wrong. */
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Parses `value`; throws a RangeError whose message says what is wrong (without the value: the caller
 * quotes it, redacted, as the password is a secret).
 */
export function parseWarehouseUrl(value: string): WarehouseTarget {
  if (value.startsWith('sqlite:')) {
    const file = value.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (file === '') throw new RangeError('sqlite: needs a file path (sqlite:./data/warehouse.db)');
    return { engine: 'sqlite', file };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new RangeError('not sqlite:FILE nor postgres://user[:password]@host[:port]/db');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new RangeError(`scheme '${url.protocol}' is not sqlite: nor postgres:`);
  }
  if (url.hostname === '') throw new RangeError('postgres URL has no host');
  if (url.pathname.length <= 1) throw new RangeError('postgres URL names no database (postgres://host/db)');
  for (const key of url.searchParams.keys()) {
    if (key !== 'schema') throw new RangeError(`unknown parameter '${key}' (only ?schema=NAME)`);
  }
  const schema = url.searchParams.get('schema') ?? 'public';
  if (!SCHEMA.test(schema)) throw new RangeError(`schema '${schema}' is not a lower-case identifier`);
  url.search = '';
  return { engine: 'postgres', connectionString: url.toString(), schema };
}
