/**
 * One suite, run on each metadata engine: SQLite (the home's file) and PostgreSQL (a database of the
 * suite's own, emptied before each test; see postgres.ts for what happens when the server is missing).
 * The body gets the settings variables that point a test at its engine.
 */
import pg from 'pg';
import { usePostgres } from './postgres.js';

/** The engine a suite body runs on. */
export interface MetadataEngine {
  readonly name: 'sqlite' | 'postgres';
  /** DRIVETRAIN_* variables selecting this engine's metadata database (none on SQLite: the home's file). */
  env(): Record<string, string>;
}

/** An emptied database: every table of the previous test gone, so a test starts from the migrations. */
async function emptyDatabase(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  } finally {
    await client.end();
  }
}

/** `describe(title (SQLite))` and `describe(title (PostgreSQL))`, each with `body`. */
export function forEachMetadataEngine(title: string, body: (engine: MetadataEngine) => void): void {
  describe(`${title} (SQLite)`, () => body({ name: 'sqlite', env: () => ({}) }));
  describe(`${title} (PostgreSQL)`, () => {
    const db = usePostgres();
    beforeEach(() => emptyDatabase(db.url));
    body({ name: 'postgres', env: () => ({ DRIVETRAIN_METADATA_URL: db.url }) });
  });
}
