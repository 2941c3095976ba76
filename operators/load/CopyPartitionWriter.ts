/**
 * The load's {@link BatchSink} on PostgreSQL: prepared batches streamed into the raw partition and
 * into `rejects` by `COPY ... FROM STDIN` (two COPYs on the transaction's connection, one at a time:
 * a connection runs one COPY at once, so switching table ends the other's). A batch becomes COPY text
 * (copyText.ts) and is written while the next is prepared; the connection's buffer bounds what waits.
 */
import type { Entity } from '../entities.js';
import type { PostgresCopy } from '../warehouse/PostgresCopy.js';
import type { PostgresSession } from '../warehouse/PostgresSession.js';
import { copyText, escapeNul, refuseNul } from './copyText.js';
import type { BatchSink, PreparedBatch } from './interfaces.js';
import { insertColumns } from './rows.js';

export class CopyPartitionWriter implements BatchSink {
  private readonly rows: PostgresCopy;
  private readonly rejects: PostgresCopy;
  private readonly rowConstants: readonly string[];
  private readonly rejectConstants: readonly string[];
  /** The COPY a batch was last written to: the other one is ended before the next switch. */
  private current: PostgresCopy | undefined;
  private readonly rowNul: (s: string) => string;
  /** "load of <entity> for <ds>", for errors. */
  private readonly what: string;

  constructor(
    session: PostgresSession,
    entity: Entity,
    ds: string,
    /** Which of some ids the raw partition holds (a query on the same connection). */
    private readonly lookup: (ids: readonly string[]) => Promise<ReadonlySet<string>>,
  ) {
    this.rows = session.copyInto(`"${entity}"`, [...insertColumns(entity), 'processing_date']);
    this.rejects = session.copyInto('"rejects"', ['raw_json', 'reason', 'source', 'processing_date']);
    this.rowConstants = [ds];
    this.rejectConstants = [entity, ds];
    this.what = `load of ${entity} for ${ds}`;
    this.rowNul = refuseNul(this.what);
  }

  async write(prepared: PreparedBatch): Promise<void> {
    // PostgreSQL loads every line: no previous partition is given to its preparer (loadTask.ts).
    if (prepared.into === 'carried') throw new Error(`${this.what}: a PostgreSQL load copies no rows from a previous partition`);
    const into = prepared.into === 'rows' ? this.rows : this.rejects;
    const text =
      prepared.into === 'rows' ? copyText(prepared.batch, this.rowConstants, this.rowNul) : copyText(prepared.batch, this.rejectConstants, escapeNul);
    if (this.current !== into) await this.current?.flush();
    this.current = into;
    await into.write(text);
  }

  async inserted(ids: readonly string[]): Promise<ReadonlySet<string>> {
    // The COPY in progress must end before a query on the same connection can run and see its rows.
    await this.flush();
    return this.lookup(ids);
  }

  async flush(): Promise<void> {
    await this.current?.flush();
    this.current = undefined;
  }

  /** PostgreSQL rows have no rowid to name them by. */
  preparedRowids(): undefined {
    return undefined;
  }

  async close(): Promise<void> {
    this.current = undefined;
    await this.rows.close();
    await this.rejects.close();
  }
}
