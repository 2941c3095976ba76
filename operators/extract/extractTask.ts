/**
 * The extract operator: fetches one entity whole from the source (page by page, or the original
 * unpaged API when pageSize is 0) into the lake partition ds = ctx.ds, replacing it atomically.
 */
import type { TaskContext, TaskFn } from '../../scheduler/interfaces.js';
import { lakeBytesCounter, rowsFetchedCounter } from '../../scheduler/metrics.js';
import type { Entity } from '../../scheduler/settings.js';
import { LakePartitionWriter } from '../lake/writer.js';
import { NdjsonBuffer } from './NdjsonBuffer.js';
import { fetchRows, type RowSink } from './sourceClient.js';

/** Options of {@link extractTask}. */
export interface ExtractOptions {
  /** The entity to fetch. */
  readonly entity: Entity;
  /** Rows per lake part file. Default 100,000. */
  readonly partRows?: number;
}

/** What an extract returns (logged by the scheduler). */
export interface ExtractResult {
  readonly entity: Entity;
  readonly ds: string;
  readonly rows: number;
  readonly pages: number;
  readonly parts: number;
  readonly bytes: number;
}

/** Bytes buffered before they are handed to the gzip stream in the unpaged mode. */
const FLUSH_BYTES = 256 * 1024;
/** A row buffer's starting size: a 5000-row page of ~270-byte rows fits without growing (it grows for bigger pages). */
const PAGE_BYTES = 1536 * 1024;

/** Fetches the whole entity into the lake partition for ctx.ds. */
export async function extractEntity(ctx: TaskContext, opts: ExtractOptions): Promise<ExtractResult> {
  const { entity } = opts;
  const source = ctx.settings.source;
  const route = source.pageSize > 0 ? source.routes[entity].paged : source.routes[entity].unpaged;
  const base = `${source.url}${route}`;
  const sourceUrl = source.pageSize > 0 ? `${base}?limit=${source.pageSize}` : base;
  const writer = await LakePartitionWriter.open(ctx.settings.lakeDir, entity, ctx.ds, { partRows: opts.partRows });
  const fetchOpts = { settings: source, signal: ctx.signal, log: ctx.log };
  let pages = 0;
  try {
    // Row buffers go back to this pool once gzip has read them, so pages reuse a few megabytes.
    const pool: NdjsonBuffer[] = [];
    const take = (): NdjsonBuffer => pool.pop() ?? new NdjsonBuffer(PAGE_BYTES);
    const write = (buf: NdjsonBuffer): Promise<void> =>
      writer.writeNdjson(buf.view(), buf.rows, () => {
        buf.clear();
        pool.push(buf);
      });
    if (source.pageSize === 0) {
      // One body with every row: stream it into the lake; a retry starts the partition over.
      let pending = take();
      const sink: RowSink = {
        row: (buf, start, end, newlines) => pending.add(buf, start, end, newlines),
        flush: async () => {
          if (pending.bytes < FLUSH_BYTES) return;
          const full = pending;
          pending = take();
          await write(full);
        },
        reset: async () => {
          pending.clear();
          await writer.reset();
        },
      };
      const result = await fetchRows(sourceUrl, fetchOpts, sink);
      await write(pending);
      pages = 1;
      rowsFetchedCounter.inc({ entity }, result.rows);
    } else {
      // Page by page: a page's rows are held once (as NDJSON bytes) until the page is complete, so a
      // retried page never leaves half a page in the lake.
      let cursor: string | null | undefined;
      do {
        const url = cursor ? `${sourceUrl}&cursor=${encodeURIComponent(cursor)}` : sourceUrl;
        const page = take();
        const sink: RowSink = { row: (buf, start, end, newlines) => page.add(buf, start, end, newlines), flush: () => {}, reset: () => page.clear() };
        const result = await fetchRows(url, fetchOpts, sink);
        const rows = page.rows;
        await write(page);
        rowsFetchedCounter.inc({ entity }, rows);
        pages++;
        if (result.nextCursor !== null && result.nextCursor !== undefined && result.nextCursor === cursor) {
          throw new Error(`source returned the same next_cursor twice for ${entity}: refusing to loop`);
        }
        cursor = result.nextCursor;
        if (pages % 50 === 0) ctx.log.info(`extract ${entity}: ${writer.rows} rows in ${pages} pages so far`, { entity, rows: writer.rows, pages });
      } while (cursor);
    }
    const manifest = await writer.commit(sourceUrl, new Date());
    const bytes = manifest.parts.reduce((s, p) => s + p.bytes, 0);
    lakeBytesCounter.inc({ entity }, bytes);
    const result: ExtractResult = { entity, ds: ctx.ds, rows: manifest.rows, pages, parts: manifest.parts.length, bytes };
    ctx.log.info(`extracted ${manifest.rows} ${entity} rows in ${pages} page(s) into the lake (${manifest.parts.length} part(s), ${bytes} bytes)`, { ...result });
    return result;
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

/** A TaskFn that extracts `entity` into the lake partition ds = ctx.ds. */
export function extractTask(opts: ExtractOptions): TaskFn {
  return (ctx) => extractEntity(ctx, opts);
}
