/**
 * The PostgreSQL warehouse's {@link BulkInsert}: chunks of COPY text (tab-separated lines, see
 * copyText.ts) streamed into one table with `COPY table (cols) FROM STDIN` on the transaction's
 * connection. A write waits while the socket's buffer is full (backpressure), so memory holds a chunk
 * or two, never the partition. flush() ends the COPY (its rows are then visible to the transaction's
 * next query); a later write starts another. After a failure close() aborts the COPY in progress
 * (CopyFail), so the transaction can roll back on a connection that is ready again.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { BulkInsert } from './interfaces.js';

export class PostgresCopy implements BulkInsert<string | Buffer> {
  private stream: Writable | undefined;
  /** Resolves when the COPY in progress has ended in the database, rejects with its error. */
  private ended: Promise<void> | undefined;
  private failure: Error | undefined;
  /** Rows the finished COPYs reported. */
  rows = 0;

  constructor(
    private readonly client: () => pg.PoolClient,
    /** A table name, quoted as needed by the caller. */
    private readonly table: string,
    /** The columns of each line, in order (plain names; quoted here). */
    private readonly columns: readonly string[],
  ) {}

  /** Sends one chunk of COPY text lines; waits only while the connection's buffer is full. */
  async write(chunk: string | Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (chunk.length === 0) return;
    const stream = this.stream ?? this.start();
    if (!stream.write(chunk)) {
      // 'drain', or the COPY's failure (a bad value, a lost connection), whichever comes first.
      await Promise.race([once(stream, 'drain'), this.ended]);
    }
    if (this.failure) throw this.failure;
  }

  /** Ends the COPY in progress and waits until its rows are in. */
  async flush(): Promise<void> {
    const stream = this.stream;
    if (!stream) {
      if (this.failure) throw this.failure;
      return;
    }
    stream.end();
    await this.ended;
    this.stream = undefined;
    this.ended = undefined;
  }

  /** Aborts a COPY still in progress (after a failure elsewhere); a finished one is left alone. */
  async close(): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    if (!stream || stream.writableFinished) return;
    const ended = this.ended?.catch(() => undefined);
    stream.destroy(new Error(`load into ${this.table} aborted`));
    await ended;
  }

  private start(): Writable {
    const cols = this.columns.map((c) => `"${c}"`).join(', ');
    const stream = this.client().query(copyFrom(`COPY ${this.table} (${cols}) FROM STDIN`));
    this.ended = new Promise<void>((resolve, reject) => {
      stream.on('finish', () => {
        this.rows += (stream as unknown as { rowCount?: number }).rowCount ?? 0;
        resolve();
      });
      stream.on('error', (err: Error) => {
        this.failure ??= err;
        reject(err);
      });
      stream.on('close', () => {
        if (!stream.writableFinished) reject(this.failure ?? new Error(`COPY into ${this.table} was aborted`));
      });
    });
    // Awaited by write, flush or close; this keeps a failure from being unhandled meanwhile.
    this.ended.catch(() => {});
    this.stream = stream;
    return stream;
  }
}
