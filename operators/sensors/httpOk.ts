/** A poke met once an HTTP endpoint answers 2xx (Airflow's HttpSensor). */
import type { PokeFn } from '../../scheduler/interfaces.js';
import { checkTemplate, renderTemplate } from './intervalTemplate.js';

/**
 * `httpOk('http://source/ready?day={ds}')`: a GET (placeholders of intervalTemplate.ts); a 2xx answer is
 * met, any other answer or no answer at all (refused, reset, DNS) is a no: the endpoint is not up yet.
 * Each request is bounded by the poke's signal (the attempt timeout) and `requestTimeoutS`.
 */
export function httpOk(urlTemplate: string, opts: { readonly requestTimeoutS?: number } = {}): PokeFn {
  checkTemplate(urlTemplate);
  const requestTimeoutS = opts.requestTimeoutS ?? 30;
  return async (ctx) => {
    const url = renderTemplate(urlTemplate, ctx);
    try {
      const res = await fetch(url, { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(requestTimeoutS * 1000)]) });
      await res.body?.cancel();
      if (res.ok) return true;
      ctx.log.info(`GET ${url} answered ${res.status}`);
      return false;
    } catch (err) {
      // The attempt's own abort (timeout, shutdown) is not "no answer yet": it ends the attempt.
      if (ctx.signal.aborted) throw err;
      ctx.log.info(`GET ${url} got no answer: ${(err as Error).message}`);
      return false;
    }
  };
}
