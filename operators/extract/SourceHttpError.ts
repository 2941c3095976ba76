import { redactUrl } from '../../scheduler/redact.js';

/** A source request answered with a non-2xx status. */
export class SourceHttpError extends Error {
  override readonly name = 'SourceHttpError';
  /** The request URL, its password redacted: the error is logged and stored. */
  readonly url: string;
  constructor(
    url: string,
    /** The HTTP status. */
    readonly status: number,
    /** Retry-After in ms when the source sent one. */
    readonly retryAfterMs: number | undefined,
  ) {
    super(`source answered ${status} to GET ${redactUrl(url)}`);
    this.url = redactUrl(url);
  }

  /** 4xx other than 408 (timeout) and 429 (rate limit) will not change on a retry. */
  get retryable(): boolean {
    return !(this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429);
  }
}
