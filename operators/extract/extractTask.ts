/**
 * The extract operator: fetches one entity whole from the source (page by page, or the original
 * unpaged API when pageSize is 0) into the lake partition ds = ctx.ds, replacing it atomically.
 */
import { NonRetryableError } from '../../scheduler/errors/NonRetryableError.js';
import type { TaskContext, TaskFn } from '../../scheduler/interfaces.js';
import { lakeBytesCounter, rowsFetchedCounter } from '../../scheduler/metrics.js';
import { redactErrorInPlace, redactUrl } from '../../scheduler/redact.js';
import { sourceRoutes, type Entity } from '../entities.js';
import { LakePartitionWriter } from '../lake/writer.js';
import { CursorCycleError } from './CursorCycleError.js';
import { NdjsonBuffer } from './NdjsonBuffer.js';
import { SourceHttpError } from './SourceHttpError.js';
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
/** A row buffer's starting size: a page of the default 5000 source rows fits without growing (it grows for bigger pages). */
const PAGE_BYTES = 1536 * 1024;

/** True when the source does not know a route at all (404), as the original service and `/v1/...`. */
function isRouteMissing(err: unknown): boolean {
  const cause = err instanceof NonRetryableError ? err.cause : err;
  return cause instanceof SourceHttpError && cause.status === 404;
}

/** Fetches the whole entity into the lake partition for ctx.ds. */
export async function extractEntity(ctx: TaskContext, opts: ExtractOptions): Promise<ExtractResult> {
  const { entity } = opts;
  const source = ctx.settings.source;
  const writer = await LakePartitionWriter.open(ctx.settings.lakeDir, entity, ctx.ds, { partRows: opts.partRows });
  const fetchOpts = { settings: source, signal: ctx.signal, log: ctx.log };
  // Row buffers go back to this pool once gzip has read them, so pages reuse a few megabytes.
  const pool: NdjsonBuffer[] = [];
  const take = (): NdjsonBuffer => pool.pop() ?? new NdjsonBuffer(PAGE_BYTES);
  const write = (buf: NdjsonBuffer): Promise<void> =>
    writer.writeNdjson(buf.view(), buf.rows, () => {
      buf.clear();
      pool.push(buf);
    });

  /** The original API: one body with every row, streamed into the lake; a retry starts the partition over. */
  const fetchUnpaged = async (url: string): Promise<number> => {
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
    const result = await fetchRows(url, fetchOpts, sink);
    await write(pending);
    rowsFetchedCounter.inc({ entity }, result.rows);
    return 1;
  };

  /**
   * Page by page: a page's rows are held once (as NDJSON bytes) until the page is complete, so a
   * retried page never leaves half a page in the lake.
   */
  const fetchPaged = async (url: string): Promise<number> => {
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
        const pageUrl = cursor ? `${url}&cursor=${encodeURIComponent(cursor)}` : url;
        const page = take();
        const sink: RowSink = { row: (buf, start, end, newlines) => page.add(buf, start, end, newlines), flush: () => {}, reset: () => page.clear() };
        const result = await fetchRows(pageUrl, fetchOpts, sink);
        const rows = page.rows;
        await writing;
        writing = write(page);
        // Awaited before the next write and at the end; this keeps a failure meanwhile handled.
        writing.catch(() => {});
        rowsFetchedCounter.inc({ entity }, rows);
        pages++;
        cursor = result.nextCursor;
        if (cursor) {
          const first = sentBy.get(cursor);
          if (first !== undefined) {
            const cycle = new CursorCycleError(entity, cursor, first, pages);
            throw new NonRetryableError(cycle.message, { cause: cycle });
          }
          sentBy.set(cursor, pages);
        }
        if (pages % 50 === 0) ctx.log.info(`extract ${entity}: ${writer.rows} rows in ${pages} pages so far`, { entity, rows: writer.rows, pages });
      } while (cursor);
    } catch (err) {
      // Let the page still compressing finish before the caller aborts the partition under it.
      await writing.catch(() => {});
      throw err;
    }
    await writing;
    return pages;
  };

  const routes = sourceRoutes(entity);
  const unpagedUrl = `${source.url}${routes.unpaged}`;
  let sourceUrl = source.pageSize > 0 ? `${source.url}${routes.paged}?limit=${source.pageSize}` : unpagedUrl;
  try {
    let pages: number;
    if (source.pageSize === 0) {
      pages = await fetchUnpaged(sourceUrl);
    } else {
      try {
        pages = await fetchPaged(sourceUrl);
      } catch (err) {
        // A source without the paged routes (the original service) answers their first page 404:
        // fall back to its unpaged route rather than fail every night on a setting.
        if (!isRouteMissing(err) || writer.rows > 0) throw err;
        ctx.log.warn(`${redactUrl(sourceUrl)} answered 404: the source has no paged routes, fetching ${redactUrl(unpagedUrl)} (set DRIVETRAIN_SOURCE_PAGE_SIZE=0 for this source)`);
        sourceUrl = unpagedUrl;
        pages = await fetchUnpaged(sourceUrl);
      }
    }
    const manifest = await writer.commit(sourceUrl, new Date());
    const bytes = manifest.parts.reduce((s, p) => s + p.bytes, 0);
    lakeBytesCounter.inc({ entity }, bytes);
    const result: ExtractResult = { entity, ds: ctx.ds, rows: manifest.rows, pages, parts: manifest.parts.length, bytes };
    ctx.log.info(`extracted ${manifest.rows} ${entity} rows in ${pages} page(s) into the lake (${manifest.parts.length} part(s), ${bytes} bytes)`, { ...result });
    return result;
  } catch (err) {
    await writer.abort();
    // Whoever catches it stores its message (last_error, alerts): no URL password may ride along.
    throw redactErrorInPlace(err);
  }
}

/** A TaskFn that extracts `entity` into the lake partition ds = ctx.ds. */
export function extractTask(opts: ExtractOptions): TaskFn {
  return (ctx) => extractEntity(ctx, opts);
}
