/**
 * The warehouse tests run on both engines: `describeEachEngine(title, (engine) => { ... })` declares
 * the suite once per engine ("title on sqlite", "title on postgres"), and the body passes `engine` to
 * useTmpWarehouse. On PostgreSQL the suite gets a database of its own (postgres.ts: skipped in one line
 * when the server is unreachable, a failure under CI) and each test a fresh schema in it, so tests
 * stay as independent as they are with a fresh SQLite file each.
 */
import { usePostgres, type TestPostgres } from './postgres.js';

export const WAREHOUSE_ENGINES = ['sqlite', 'postgres'] as const;
export type WarehouseEngine = (typeof WAREHOUSE_ENGINES)[number];

/** The PostgreSQL database of the suite being declared, for useTmpWarehouse to find. */
let declaring: TestPostgres | undefined;

/** Declares `body` as one suite per engine. */
export function describeEachEngine(title: string, body: (this: Mocha.Suite, engine: WarehouseEngine) => void): void {
  for (const engine of WAREHOUSE_ENGINES) {
    describe(`${title} on ${engine}`, function () {
      const outer = declaring;
      declaring = engine === 'postgres' ? usePostgres() : undefined;
      try {
        body.call(this, engine);
      } finally {
        declaring = outer;
      }
    });
  }
}

/** The suite database describeEachEngine made for the PostgreSQL suite being declared. */
export function declaringPostgres(): TestPostgres | undefined {
  return declaring;
}

let schemas = 0;

/** A new schema name for one test's warehouse. */
export function nextSchema(): string {
  return `wh_${process.pid}_${++schemas}`;
}
