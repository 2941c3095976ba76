/**
 * The load's {@link BatchSink}: prepared batches into the raw partition and into `rejects`, each
 * through its own {@link BatchWriter} (prepared statements on the transaction's session, one batch
 * in flight while the next is prepared), and rows carried from the previous partition through a
 * {@link CarryWriter}.
 */
import type { Entity } from '../../entities.js';
import type { WarehouseSession } from '../../warehouse/interfaces.js';
import { BatchWriter } from './BatchWriter.js';
import { CarryWriter, type CarrySource } from './CarryWriter.js';
import type { BatchSink, PreparedBatch } from '../interfaces.js';
import { insertColumns } from '../rows.js';

export class PartitionWriter implements BatchSink {
  private readonly rows: BatchWriter;
  private readonly rejects: BatchWriter;
  private readonly carried: CarryWriter | undefined;

  constructor(
    session: WarehouseSession,
    private readonly entity: Entity,
    private readonly ds: string,
    /** Which of some ids the raw partition holds (a query on the same connection). */
    private readonly lookup: (ids: readonly string[]) => Promise<ReadonlySet<string>>,
    /** Where carried rows are copied from; none: no carried rows. */
    carryFrom?: CarrySource,
  ) {
    this.rows = new BatchWriter(session, entity, insertColumns(entity), [['processing_date', ds]], { keepRowids: true });
    this.rejects = new BatchWriter(session, 'rejects', ['raw_json', 'reason'], [['source', entity], ['processing_date', ds]]);
    this.carried = carryFrom === undefined ? undefined : new CarryWriter(session, entity, ds, carryFrom);
  }

  write(prepared: PreparedBatch): Promise<void> {
    if (prepared.into !== 'carried') return prepared.into === 'rows' ? this.rows.write(prepared.batch) : this.rejects.write(prepared.batch);
    if (!this.carried) throw new Error(`load of ${this.entity} for ${this.ds}: rows carried from a previous partition, but none is attached`);
    return this.carried.write(prepared.batch);
  }

  async inserted(ids: readonly string[]): Promise<ReadonlySet<string>> {
    // The rows' batches in flight must be in before the query can see them.
    await this.rows.flush();
    await this.carried?.flush();
    return this.lookup(ids);
  }

  async flush(): Promise<void> {
    await this.rows.flush();
    await this.carried?.flush();
    await this.rejects.flush();
  }

  preparedRowids(): readonly number[] {
    return this.rows.rowids!;
  }

  async close(): Promise<void> {
    await this.rows.close();
    await this.carried?.close();
    await this.rejects.close();
  }
}
