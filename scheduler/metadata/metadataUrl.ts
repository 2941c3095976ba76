/**
 * Where the metadata lives, parsed once from DRIVETRAIN_METADATA_URL: `sqlite:` followed by a file
 * path (the embedded default), or `postgres://user[:password]@host[:port]/db` for a server several
 * daemons share. One strict parser, so the setting, MetadataDb and the heartbeat thread read the same
 * thing from the same text.
 */
import path from 'node:path';
import { MetadataUrlError } from './MetadataUrlError.js';

/** A parsed metadata URL. */
export type MetadataLocation =
  | { readonly engine: 'sqlite'; /** Absolute path of the file. */ readonly file: string }
  | {
      readonly engine: 'postgres';
      readonly host: string;
      readonly port: number;
      readonly database: string;
      readonly user: string;
      /** A secret: registered for redaction by the settings loader, never logged. */
      readonly password: string | undefined;
      /** The URL as given (with its password), for the drivers. */
      readonly url: string;
    };

const POSTGRES = /^postgres(?:ql)?:\/\//i;

/** True when `text` names a PostgreSQL database rather than a SQLite file. */
export function isPostgresUrl(text: string): boolean {
  return POSTGRES.test(text);
}

/**
 * Parses `text`: `sqlite:PATH` (relative to `cwd`), `postgres://...` or `postgresql://...`. A bare
 * path is a SQLite file too, which is what the tests and the older API pass. Throws MetadataUrlError.
 */
export function parseMetadataUrl(text: string, cwd = process.cwd()): MetadataLocation {
  if (isPostgresUrl(text)) return parsePostgres(text);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text) && !/^sqlite:/i.test(text)) {
    throw new MetadataUrlError(text, 'not sqlite:PATH or postgres://user[:password]@host[:port]/database');
  }
  const file = text.replace(/^sqlite:(\/\/(?=\/))?/i, '');
  if (file === '') throw new MetadataUrlError(text, 'sqlite: needs a file path');
  return { engine: 'sqlite', file: path.resolve(cwd, file) };
}

function parsePostgres(text: string): MetadataLocation {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new MetadataUrlError(text, 'not a valid URL');
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (u.hostname === '') throw new MetadataUrlError(text, 'no host');
  if (database === '' || database.includes('/')) throw new MetadataUrlError(text, 'no database name (postgres://user@host:port/database)');
  if (u.username === '') throw new MetadataUrlError(text, 'no user (postgres://user@host:port/database)');
  const port = u.port === '' ? 5432 : Number(u.port);
  return {
    engine: 'postgres',
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port,
    database,
    user: decodeURIComponent(u.username),
    password: u.password === '' ? undefined : decodeURIComponent(u.password),
    url: text,
  };
}

/** `text` as stored in the settings: a PostgreSQL URL as given, a SQLite one as `sqlite:` + an absolute path. */
export function normalizeMetadataUrl(text: string, cwd = process.cwd()): string {
  const loc = parseMetadataUrl(text, cwd);
  return loc.engine === 'sqlite' ? `sqlite:${loc.file}` : loc.url;
}
