/** A webhook POST that did not get a 2xx answer: the status, or the network error's code. */
export class WebhookError extends Error {
  override readonly name = 'WebhookError';

  constructor(
    /** The webhook's origin (never its path or credentials: a webhook URL holds its token). */
    readonly origin: string,
    /** The HTTP status, when the receiver answered. */
    readonly status: number | undefined,
    detail: string,
  ) {
    super(`webhook ${origin}: ${detail}`);
  }
}
