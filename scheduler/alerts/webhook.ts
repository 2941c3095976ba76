/** One POST of an alert to the webhook. */
import type { AlertPayload } from '../interfaces.js';
import { redact } from '../redact.js';
import { WebhookError } from './WebhookError.js';

/** How long one POST may take before it counts as failed. */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** The URL's origin, what may be shown of it (the path of a Slack webhook is its token). */
export function webhookOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '***';
  }
}

/** POSTs `payload` as JSON; resolves with the status on 2xx, rejects with WebhookError otherwise (also when `signal` aborts it). */
export async function postAlert(url: string, payload: AlertPayload, timeoutMs = WEBHOOK_TIMEOUT_MS, signal?: AbortSignal): Promise<number> {
  const origin = webhookOrigin(url);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
      signal: signal ? AbortSignal.any([AbortSignal.timeout(timeoutMs), signal]) : AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const detail =
      e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : signal?.aborted ? 'stopped before an answer' : (e.cause?.code ?? e.cause?.message ?? e.message);
    throw new WebhookError(origin, undefined, redact(detail));
  }
  // The body is not needed, but reading it frees the connection for the next alert.
  await res.arrayBuffer().catch(() => undefined);
  if (res.status < 200 || res.status > 299) throw new WebhookError(origin, res.status, `HTTP ${res.status}`);
  return res.status;
}
