/**
 * The load's {@link BatchSink}: prepared batches into the raw partition and into `rejects`, each
 * through its own {@link BatchWriter} (prepared statements on the transaction's session, one batch
 * in flight while the next is prepared).
 */
import type { Entity } from '../../entities.js';
import type { WarehouseSession } from '../../warehouse/interfaces.js';
import { BatchWriter } from './BatchWriter.js';
import type { BatchSink, PreparedBatch } from '../interfaces.js';
import { insertColumns } from '../rows.js';

export class PartitionWriter implements BatchSink {
  private readonly rows: BatchWriter;
  private readonly rejects: BatchWriter;

  constructor(
    session: WarehouseSession,
    entity: Entity,
    ds: string,
    /** Which of some ids the raw partition holds (a query on the same connection). */
    private readonly lookup: (ids: readonly string[]) => Promise<ReadonlySet<string>>,
  ) {
    this.rows = new BatchWriter(session, entity, insertColumns(entity), [['processing_date', ds]]);
    this.rejects = new BatchWriter(session, 'rejects', ['raw_json', 'reason'], [['source', entity], ['processing_date', ds]]);
  }

  write(prepared: PreparedBatch): Promise<void> {
    return prepared.into === 'rows' ? this.rows.write(prepared.batch) : this.rejects.write(prepared.batch);
  }

  async inserted(ids: readonly string[]): Promise<ReadonlySet<string>> {
    // The rows' batch in flight must be in before the query can see it.
    await this.rows.flush();
    return this.lookup(ids);
  }

  async flush(): Promise<void> {
    await this.rows.flush();
    await this.rejects.flush();
  }

  async close(): Promise<void> {
    await this.rows.close();
    await this.rejects.close();
  }
}
