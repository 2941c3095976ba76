/**
 * The one retry policy of a metadata write transaction, shared by MetadataDb (Sequelize) and the
 * heartbeat thread's PlainMetadataConnection: a transaction that finds the database locked past the
 * busy timeout is run again from the start (every transaction body is written to be re-run); any other
 * error ends it at once.
 */
import pRetry, { AbortError } from 'p-retry';
import type { MetadataDialect } from './dialect.js';

/** Runs `attempt`, again while it fails because the database is busy. */
export function retryWhileBusy<T>(dialect: Pick<MetadataDialect, 'isBusy'>, attempt: () => Promise<T>): Promise<T> {
  return pRetry(
    async () => {
      try {
        return await attempt();
      } catch (err) {
        if (!dialect.isBusy(err)) throw new AbortError(err as Error);
        throw err;
      }
    },
    { retries: 5, minTimeout: 50, maxTimeout: 1000, randomize: true },
  );
}
