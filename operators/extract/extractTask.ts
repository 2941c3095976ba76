/**
 * The extract operator: fetches one entity whole from the source (page by page, or the original
 * unpaged API when pageSize is 0) into the lake partition ds = ctx.ds, replacing it atomically.
 */
import { NonRetryableError } from '../../scheduler/errors/NonRetryableError.js';
import type { TaskContext, TaskFn } from '../../scheduler/interfaces.js';
import { lakeBytesCounter } from '../../scheduler/metrics.js';
import { redactErrorInPlace, redactUrl } from '../../scheduler/redact.js';
import { sourceRoutes, type Entity } from '../entities.js';
import { LakePartitionWriter } from '../lake/writer.js';
import { EntityFetcher } from './EntityFetcher.js';
import { SourceHttpError } from './SourceHttpError.js';

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

/** True when the source does not know a route at all (404), as the original service and `/v1/...`. */
function isRouteMissing(err: unknown): boolean {
  const cause = err instanceof NonRetryableError ? err.cause : err;
  return cause instanceof SourceHttpError && cause.status === 404;
}

/** Fetches the whole entity into the lake partition for ctx.ds. */
export async function extractEntity(ctx: TaskContext, opts: ExtractOptions): Promise<ExtractResult> {
  const { entity } = opts;
  const writer = await LakePartitionWriter.open(ctx.settings.lakeDir, entity, ctx.ds, { partRows: opts.partRows });
  try {
    const { url, pages } = await fetchEntity(ctx, new EntityFetcher(ctx, entity, writer), writer);
    return await commitPartition(ctx, entity, writer, url, pages);
  } catch (err) {
    await writer.abort();
    // Whoever catches it stores its message (last_error, alerts): no URL password may ride along.
    throw redactErrorInPlace(err);
  }
}

/** Fetches through the route the settings pick; the URL the rows came from and the pages fetched. */
async function fetchEntity(ctx: TaskContext, fetcher: EntityFetcher, writer: LakePartitionWriter): Promise<{ url: string; pages: number }> {
  const source = ctx.settings.source;
  const routes = sourceRoutes(fetcher.entity);
  const unpagedUrl = `${source.url}${routes.unpaged}`;
  if (source.pageSize === 0) return { url: unpagedUrl, pages: await fetcher.fetchUnpaged(unpagedUrl) };
  const pagedUrl = `${source.url}${routes.paged}?limit=${source.pageSize}`;
  try {
    return { url: pagedUrl, pages: await fetcher.fetchPaged(pagedUrl) };
  } catch (err) {
    // A source without the paged routes (the original service) answers their first page 404:
    // fall back to its unpaged route rather than fail every night on a setting.
    if (!isRouteMissing(err) || writer.rows > 0) throw err;
    ctx.log.warn(`${redactUrl(pagedUrl)} answered 404: the source has no paged routes, fetching ${redactUrl(unpagedUrl)} (set DRIVETRAIN_SOURCE_PAGE_SIZE=0 for this source)`);
    return { url: unpagedUrl, pages: await fetcher.fetchUnpaged(unpagedUrl) };
  }
}

/** Commits the partition (its manifest names `sourceUrl`), counts its bytes and logs what was extracted. */
async function commitPartition(ctx: TaskContext, entity: Entity, writer: LakePartitionWriter, sourceUrl: string, pages: number): Promise<ExtractResult> {
  const manifest = await writer.commit(sourceUrl, new Date());
  const bytes = manifest.parts.reduce((s, p) => s + p.bytes, 0);
  lakeBytesCounter.inc({ entity }, bytes);
  const result: ExtractResult = { entity, ds: ctx.ds, rows: manifest.rows, pages, parts: manifest.parts.length, bytes };
  ctx.log.info(`extracted ${manifest.rows} ${entity} rows in ${pages} page(s) into the lake (${manifest.parts.length} part(s), ${bytes} bytes)`, { ...result });
  return result;
}

/** A TaskFn that extracts `entity` into the lake partition ds = ctx.ds. */
export function extractTask(opts: ExtractOptions): TaskFn {
  return (ctx) => extractEntity(ctx, opts);
}
