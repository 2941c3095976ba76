/**
 * PostgreSQL in tests: a fresh database per suite on the machine's server (127.0.0.1:5432, user
 * postgres, trust authentication), dropped after it. A database of its own per run keeps parallel
 * test runs of several engineers (and a crashed earlier run) from seeing each other's rows.
 *
 * When the server is unreachable: under CI (CI=true) the suite fails, since CI must prove both
 * engines; elsewhere the suite is skipped with one line saying why, once per process.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { KitUsageError } from './KitUsageError.js';

/** The server every PostgreSQL test uses; tests never point anywhere else. */
export const POSTGRES_SERVER = { host: '127.0.0.1', port: 5432, user: 'postgres' } as const;

/** A database created for one suite. */
export interface TestPostgres {
  /** `postgres://postgres@127.0.0.1:5432/<name>`. */
  readonly url: string;
  /** `drivetrain_test_<pid>_<random>`. */
  readonly name: string;
}

function adminClient(): pg.Client {
  // The maintenance database exists on every server; the test database cannot be dropped from itself.
  return new pg.Client({ ...POSTGRES_SERVER, database: 'postgres', connectionTimeoutMillis: 5000 });
}

/** Creates a new empty database and returns it; throws when the server is unreachable. */
export async function createTestDatabase(): Promise<TestPostgres> {
  const name = `drivetrain_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = adminClient();
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const { host, port, user } = POSTGRES_SERVER;
  return { name, url: `postgres://${user}@${host}:${port}/${name}` };
}

/** Drops a database createTestDatabase made, closing any connection a test left open on it. */
export async function dropTestDatabase(db: TestPostgres): Promise<void> {
  const admin = adminClient();
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${db.name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

let skipNoticeShown = false;

/**
 * Mocha hooks for the calling `describe`: a new database before its tests (once for the suite), dropped
 * after them; `beforeDrop` runs first (close pools, stop children). Read `.url` inside tests and hooks.
 */
export function usePostgres(opts: { readonly beforeDrop?: () => void | Promise<void> } = {}): TestPostgres {
  let current: TestPostgres | undefined;
  before(async function () {
    try {
      current = await createTestDatabase();
    } catch (err) {
      if (process.env.CI === 'true') throw err;
      if (!skipNoticeShown) {
        skipNoticeShown = true;
        console.log(`  PostgreSQL at ${POSTGRES_SERVER.host}:${POSTGRES_SERVER.port} is unreachable (${(err as Error).message}): skipping the PostgreSQL tests`);
      }
      this.skip();
    }
  });
  after(async () => {
    const db = current;
    current = undefined;
    try {
      await opts.beforeDrop?.();
    } finally {
      if (db !== undefined) await dropTestDatabase(db);
    }
  });
  const get = (): TestPostgres => {
    if (current === undefined) throw new KitUsageError('usePostgres', undefined, 'the PostgreSQL test database exists only inside its suite\'s tests and hooks');
    return current;
  };
  return {
    get url() {
      return get().url;
    },
    get name() {
      return get().name;
    },
  };
}
