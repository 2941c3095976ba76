/**
 * One source request, done right: a timeout (also aborted by the task's signal), the host's circuit
 * breaker, p-retry with exponential backoff and jitter, Retry-After honoured, and the body tokenized as
 * it streams in. A 4xx other than 408/429 is final (NonRetryableError), and so is an open circuit for
 * this attempt (it fails fast with a deferral; the scheduler brings the task back once the circuit may
 * half-open, without counting the try).
 */
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { pipeline } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import pRetry from 'p-retry';
import { NonRetryableError } from '../../scheduler/errors/NonRetryableError.js';
import type { Logger } from '../../scheduler/interfaces.js';
import { redactUrl } from '../../scheduler/redact.js';
import type { Settings } from '../../scheduler/settings.js';
import { breakerFor, circuitOpen, listen, throughBreaker, type HostBreaker } from './breakers.js';
import { CircuitOpenError } from './CircuitOpenError.js';
import { JsonRowStreamParser } from './jsonRowStream.js';
import { SourceHttpError } from './SourceHttpError.js';

/** What a body held besides its rows. */
export interface BodyResult {
  /** Rows tokenized. */
  readonly rows: number;
  /** The envelope's next_cursor (null/undefined for the last page and for the unpaged API). */
  readonly nextCursor: string | null | undefined;
}

/** Receives rows as they are tokenized; may return a promise to slow the body down (backpressure). */
export interface RowSink {
  /** A row's JSON bytes: [start, end) of `buf`, valid only during the call (see RowBytesHandler). */
  row(buf: Uint8Array, start: number, end: number, newlines: boolean): void;
  /** Called after each network chunk; awaited before the next is read. */
  flush(): Promise<void> | void;
  /** Called before a retry: forget rows of the failed attempt. */
  reset(): Promise<void> | void;
}

/** Options of {@link fetchRows}. */
export interface FetchOptions {
  readonly settings: Settings['source'];
  readonly signal: AbortSignal;
  readonly log: Logger;
}

function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A failure that says nothing about the host being down, so it must not trip the breaker. */
function isClientFault(err: unknown): boolean {
  return err instanceof SourceHttpError && !err.retryable;
}

/** Redirects followed per request (fetch's default is 20; a source needs one at most, e.g. a route's trailing slash). */
const MAX_REDIRECTS = 5;
/** The statuses fetch follows. */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A response body's bytes, decompressed when the source compressed it. */
type Body = AsyncIterable<Buffer>;

/** A failure of the connection itself (refused, reset, closed mid-body), named after its request. */
function connectionFailure(url: string, err: unknown, signal: AbortSignal): unknown {
  // An abort is reported by the caller (a timeout, or the task's own signal), not as a network fault.
  return signal.aborted ? err : new Error(`GET ${redactUrl(url)} failed: ${(err as Error).message}`, { cause: err });
}

/**
 * Sends the GET (following redirects) and resolves with the status, headers and body once the headers
 * are in. node:http rather than fetch: fetch hands the body on through a web stream, which moves every
 * chunk into a new ArrayBuffer and costs promises per chunk; here a chunk goes from the socket to the
 * tokenizer as it is, for less CPU and GC on the extract's thread (docs/design/load-fast-path.md).
 * Like fetch, it accepts a compressed body.
 */
async function get(url: string, signal: AbortSignal): Promise<{ status: number; retryAfter: string | undefined; body: Body; discard(): Promise<void> }> {
  let target = url;
  for (let redirects = 0; ; redirects++) {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const send = target.startsWith('https:') ? httpsGet : httpGet;
      send(target, { signal, headers: { accept: 'application/json', 'accept-encoding': 'gzip, deflate, br' } }, resolve).on('error', (err) =>
        reject(connectionFailure(url, err, signal)),
      );
    });
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    // Drained, not destroyed, so the connection goes back to the pool for the next request; waited
    // for, so a retry after a short backoff finds it there instead of opening another. The request's
    // signal (its timeout) ends a drain that stalls: the response closes.
    const discard = (): Promise<void> =>
      new Promise<void>((resolve) => {
        if (res.readableEnded || res.destroyed) return resolve();
        res.once('end', resolve).once('close', resolve).once('error', () => resolve());
        res.resume();
      });
    if (REDIRECTS.has(status) && location !== undefined && redirects < MAX_REDIRECTS) {
      await discard();
      target = new URL(location, target).href;
      continue;
    }
    if (status < 200 || status > 299) return { status, retryAfter: res.headers['retry-after'], body: res, discard };
    const encoding = res.headers['content-encoding']?.trim().toLowerCase();
    const decoder = encoding === 'gzip' || encoding === 'x-gzip' ? createGunzip() : encoding === 'deflate' ? createInflate() : encoding === 'br' ? createBrotliDecompress() : undefined;
    // pipeline() destroys both on an error or an early stop, so the socket is never left half-read.
    return { status, retryAfter: undefined, body: decoder ? pipeline(res, decoder, () => {}) : res, discard };
  }
}

async function requestOnce(url: string, opts: FetchOptions, sink: RowSink): Promise<BodyResult> {
  const timeout = AbortSignal.timeout(opts.settings.timeoutMs);
  const signal = AbortSignal.any([opts.signal, timeout]);
  try {
    const res = await get(url, signal);
    if (res.status < 200 || res.status > 299) {
      await res.discard();
      throw new SourceHttpError(url, res.status, parseRetryAfter(res.retryAfter ?? null, Date.now()));
    }
    // Bytes straight from the socket to the tokenizer: rows are never decoded to text here. The
    // body's own errors are the connection's; the tokenizer's and the sink's (the lake) are not.
    const parser = new JsonRowStreamParser((buf, start, end, newlines) => sink.row(buf, start, end, newlines));
    const chunks = res.body[Symbol.asyncIterator]();
    try {
      for (;;) {
        const step = await chunks.next().catch((err: unknown) => {
          throw connectionFailure(url, err, signal);
        });
        if (step.done) break;
        parser.write(step.value);
        await sink.flush();
      }
    } finally {
      // Stops the body after a failure here (the socket is destroyed, not left half-read).
      await chunks.return?.();
    }
    const scalars = parser.end();
    const next = scalars.next_cursor;
    if (next !== undefined && next !== null && typeof next !== 'string') throw new Error(`GET ${redactUrl(url)}: next_cursor is not a string or null`);
    return { rows: parser.rows, nextCursor: next };
  } catch (err) {
    if (timeout.aborted && !opts.signal.aborted) {
      throw new Error(`GET ${redactUrl(url)} timed out after ${opts.settings.timeoutMs} ms`, { cause: err });
    }
    throw err;
  }
}

/** The host's shared breaker for a source URL. */
export function sourceBreaker(url: string, settings: Settings['source']): HostBreaker {
  const { protocol, host } = new URL(url);
  return breakerFor(host, settings.breaker, isClientFault, `${protocol}//${host}`);
}

/**
 * GETs `url`, retrying per settings, handing rows to `sink` as they stream in. Rejects with
 * NonRetryableError for a 4xx other than 408/429; with CircuitOpenError (a deferral: the scheduler
 * reschedules the task) when the host's circuit is open, also when these failures opened it; with the
 * last error once retries are exhausted.
 */
export async function fetchRows(url: string, opts: FetchOptions, sink: RowSink): Promise<BodyResult> {
  const hb = sourceBreaker(url, opts.settings);
  listen(hb, opts.log);
  try {
    return await pRetry(
      async (attempt) => {
        if (attempt > 1) await sink.reset();
        return throughBreaker(hb, () => requestOnce(url, opts, sink));
      },
      {
        retries: opts.settings.retries,
        factor: 2,
        minTimeout: opts.settings.retryMinTimeoutMs,
        maxTimeout: opts.settings.retryMaxTimeoutMs,
        randomize: true,
        signal: opts.signal,
        shouldRetry: async ({ error }) => {
          if (error instanceof CircuitOpenError || error instanceof NonRetryableError || isClientFault(error)) return false;
          if (error instanceof SourceHttpError && error.retryAfterMs !== undefined) {
            // Honour Retry-After (capped at the backoff cap); p-retry's own backoff follows.
            const wait = Math.min(error.retryAfterMs, opts.settings.retryMaxTimeoutMs);
            opts.log.info(`source asked to retry after ${Math.round(wait)} ms`, { url: redactUrl(url), retryAfterMs: error.retryAfterMs });
            await sleep(wait, opts.signal);
          }
          return true;
        },
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
          opts.log.warn(`GET ${redactUrl(url)} attempt ${attemptNumber} failed: ${error.message}`, { url: redactUrl(url), attempt: attemptNumber, retriesLeft });
        },
      },
    );
  } catch (err) {
    if (isClientFault(err)) throw new NonRetryableError((err as Error).message, { cause: err });
    if (err instanceof CircuitOpenError) throw err;
    if (opts.signal.aborted) throw err;
    const failed = new Error(`GET ${redactUrl(url)} failed after ${opts.settings.retries + 1} attempts: ${(err as Error).message}`, { cause: err });
    // These failures opened the host's breaker (or a failed trial re-opened it): the outage is now the
    // breaker's to time, and the task's next try would only be refused, so this one is deferred too.
    if (hb.breaker.opened) throw circuitOpen(hb, failed);
    throw failed;
  } finally {
    hb.listeners.delete(opts.log);
  }
}
