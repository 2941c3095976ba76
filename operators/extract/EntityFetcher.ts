/**
 * Fetches one entity's rows from the source into an open lake partition, page by page or through the
 * original unpaged API; the extract operator (extractTask.ts) opens, commits or aborts the partition.
 */
import { NonRetryableError } from '../../scheduler/errors/NonRetryableError.js';
import type { TaskContext } from '../../scheduler/interfaces.js';
import { rowsFetchedCounter } from '../../scheduler/metrics.js';
import type { Entity } from '../entities.js';
import type { LakePartitionWriter } from '../lake/writer.js';
import { CursorCycleError } from './CursorCycleError.js';
import { NdjsonBuffer } from './NdjsonBuffer.js';
import { fetchRows, type FetchOptions, type RowSink } from './sourceClient.js';

/** Bytes buffered before they are handed to the gzip stream in the unpaged mode. */
const FLUSH_BYTES = 256 * 1024;
/** A row buffer's starting size: a page of the default 5000 source rows fits without growing (it grows for bigger pages). */
const PAGE_BYTES = 1536 * 1024;

/** One entity's fetch into `writer`; each method returns the pages it fetched. */
export class EntityFetcher {
  /** Row buffers go back here once gzip has read them, so pages reuse a few megabytes. */
  private readonly pool: NdjsonBuffer[] = [];
  private readonly fetchOpts: FetchOptions;

  constructor(
    private readonly ctx: TaskContext,
    readonly entity: Entity,
    private readonly writer: LakePartitionWriter,
  ) {
    this.fetchOpts = { settings: ctx.settings.source, signal: ctx.signal, log: ctx.log };
  }

  /** The original API: one body with every row, streamed into the lake; a retry starts the partition over. */
  async fetchUnpaged(url: string): Promise<number> {
    let pending = this.take();
    const sink: RowSink = {
      row: (buf, start, end, newlines) => pending.add(buf, start, end, newlines),
      flush: async () => {
        if (pending.bytes < FLUSH_BYTES) return;
        const full = pending;
        pending = this.take();
        await this.write(full);
      },
      reset: async () => {
        pending.clear();
        await this.writer.reset();
      },
    };
    const result = await fetchRows(url, this.fetchOpts, sink);
    await this.write(pending);
    rowsFetchedCounter.inc({ entity: this.entity }, result.rows);
    return 1;
  }

  /**
   * Page by page: a page's rows are held once (as NDJSON bytes) until the page is complete, so a
   * retried page never leaves half a page in the lake.
   */
  async fetchPaged(url: string): Promise<number> {
    const { entity, writer } = this;
    let pages = 0;
    let cursor: string | null | undefined;
    // Every cursor followed, with the page that sent it: a source whose cursors cycle (A -> B -> A)
    // would otherwise be followed until something else gave out.
    const sentBy = new Map<string, number>();
    // The previous page's write, still compressing while the next page is fetched: waiting for gzip
    // before each request left the source idle for a page's compression (one more page buffer held).
    let writing: Promise<void> = Promise.resolve();
    try {
      do {
        const page = this.take();
        const sink: RowSink = { row: (buf, start, end, newlines) => page.add(buf, start, end, newlines), flush: () => {}, reset: () => page.clear() };
        const result = await fetchRows(cursor ? `${url}&cursor=${encodeURIComponent(cursor)}` : url, this.fetchOpts, sink);
        const rows = page.rows;
        await writing;
        writing = this.write(page);
        // Awaited before the next write and at the end; this keeps a failure meanwhile handled.
        writing.catch(() => {});
        rowsFetchedCounter.inc({ entity }, rows);
        pages++;
        cursor = result.nextCursor;
        if (cursor) this.noteCursor(sentBy, cursor, pages);
        if (pages % 50 === 0) this.ctx.log.info(`extract ${entity}: ${writer.rows} rows in ${pages} pages so far`, { entity, rows: writer.rows, pages });
      } while (cursor);
    } catch (err) {
      // Let the page still compressing finish before the caller aborts the partition under it.
      await writing.catch(() => {});
      throw err;
    }
    await writing;
    return pages;
  }

  /** Records that page `pages` sent `cursor`; a cursor already followed is a cycle, which no retry mends. */
  private noteCursor(sentBy: Map<string, number>, cursor: string, pages: number): void {
    const first = sentBy.get(cursor);
    if (first !== undefined) {
      const cycle = new CursorCycleError(this.entity, cursor, first, pages);
      throw new NonRetryableError(cycle.message, { cause: cycle });
    }
    sentBy.set(cursor, pages);
  }

  private take(): NdjsonBuffer {
    return this.pool.pop() ?? new NdjsonBuffer(PAGE_BYTES);
  }

  private write(buf: NdjsonBuffer): Promise<void> {
    return this.writer.writeNdjson(buf.view(), buf.rows, () => {
      buf.clear();
      this.pool.push(buf);
    });
  }
}
