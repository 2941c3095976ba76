/**
 * Copies carried rows (CarryMatcher.ts) from the previous raw partition into the load's partition: one
 * INSERT ... SELECT per batch over its runs of rowids, each row given the load's processing_date and
 * its new lake line. A row copies only if it is still the previous partition's row of the line it was
 * matched with; one that is not makes the batch short, and the load starts again without copying
 * (CarrySourceError). The previous partition is read through the same file attached under another name
 * (`schema`): SQLite would otherwise copy every row into a temporary table before inserting it, as it
 * does whenever a statement reads the table it writes (the copy took 3.1 s a million cars that way,
 * 1.4 s through the attached name, in the sqlite3 CLI).
 */
import type { Entity } from '../../entities.js';
import type { PreparedStatement, WarehouseSession } from '../../warehouse/interfaces.js';
import { LAKE_LINE_COLUMN } from '../fields.js';
import type { CarriedRows } from '../interfaces.js';
import { insertColumns } from '../rows.js';
import { CarrySourceError } from './CarrySourceError.js';
import { InFlight } from './InFlight.js';

/** Where carried rows come from. */
export interface CarrySource {
  /** The schema name the warehouse file is attached under for reading the previous partition. */
  readonly schema: string;
  /** The previous partition's date. */
  readonly ds: string;
}

export class CarryWriter {
  private statement: Promise<PreparedStatement> | undefined;
  private readonly inflight = new InFlight();

  constructor(
    private readonly session: WarehouseSession,
    private readonly entity: Entity,
    private readonly ds: string,
    private readonly source: CarrySource,
  ) {}

  /** Waits for the batch in flight, then starts copying `batch`. */
  async write(batch: CarriedRows): Promise<void> {
    await this.inflight.done();
    const copied = insertColumns(this.entity).filter((c) => c !== LAKE_LINE_COLUMN);
    // The runs as a table first: a JSON value read in the row's expressions costs SQLite a lookup a row
    // (2.5 s a million cars in the sqlite3 CLI against 1.4 s).
    this.statement ??= this.session.prepare(
      `WITH r AS MATERIALIZED (SELECT value->>0 AS first, value->>1 AS last, value->>2 AS previous, value->>3 AS line FROM json_each(?1)) ` +
        `INSERT INTO main."${this.entity}" (${[...copied, 'processing_date', LAKE_LINE_COLUMN].map((c) => `"${c}"`).join(',')}) ` +
        `SELECT ${copied.map((c) => `p."${c}"`).join(',')}, ?2, r.line + (p.rowid - r.first) ` +
        `FROM r CROSS JOIN ${this.source.schema}."${this.entity}" AS p WHERE p.rowid BETWEEN r.first AND r.last ` +
        `AND p.processing_date = ?3 AND p."${LAKE_LINE_COLUMN}" = r.previous + (p.rowid - r.first)`,
    );
    const ranges: number[][] = [];
    for (let k = 0; k < batch.ranges.length; k += 4) ranges.push(batch.ranges.slice(k, k + 4));
    const p = (await this.statement).run([JSON.stringify(ranges), this.ds, this.source.ds]).then(({ changes }) => {
      if (changes !== batch.rows) throw new CarrySourceError(this.entity, this.source.ds, `${changes} of ${batch.rows} rows were where they were read`);
    });
    this.inflight.track(p);
  }

  /** Waits until every batch written is in. */
  flush(): Promise<void> {
    return this.inflight.done();
  }

  /** Finalizes the statement (after a failure too). */
  async close(): Promise<void> {
    await this.inflight.settled();
    const stmt = await this.statement?.catch(() => undefined);
    await stmt?.finalize().catch(() => undefined);
    this.statement = undefined;
  }
}
