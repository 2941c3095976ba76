import { expect } from 'chai';
import pg from 'pg';
import { createTestDatabase, dropTestDatabase, POSTGRES_SERVER, usePostgres } from './postgres.js';

async function databaseExists(name: string): Promise<boolean> {
  const client = new pg.Client({ ...POSTGRES_SERVER, database: 'postgres' });
  await client.connect();
  try {
    const res = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return res.rowCount === 1;
  } finally {
    await client.end();
  }
}

describe('the PostgreSQL test helper', () => {
  const db = usePostgres();

  it('gives each suite a database of its own named after the process, reachable at its URL', async () => {
    expect(db.name).to.match(new RegExp(`^drivetrain_test_${process.pid}_[0-9a-f]{8}$`));
    expect(db.url).to.equal(`postgres://postgres@127.0.0.1:5432/${db.name}`);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const res = await client.query<{ db: string }>('SELECT current_database() AS db');
      expect(res.rows[0].db).to.equal(db.name);
    } finally {
      await client.end();
    }
  });

  it('drops a database even while a connection to it is still open', async () => {
    const made = await createTestDatabase();
    const left = new pg.Client({ connectionString: made.url });
    await left.connect();
    left.on('error', () => {}); // the forced drop terminates it
    expect(await databaseExists(made.name)).to.equal(true);
    await dropTestDatabase(made);
    expect(await databaseExists(made.name)).to.equal(false);
  });
});
