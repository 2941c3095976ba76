/**
 * Fault injection for the sample service: failing, slow, hanging requests and malformed rows, so
 * tests and demos can exercise retries, timeouts, the circuit breaker and load validation. Decisions
 * come from a seeded PRNG, so a fault pattern is reproducible.
 */
import type { EntityName } from '../operators/entities.js';
import type { Row } from './generator.js';
import { Prng, mix32 } from './prng.js';

/** Faults applied to the data routes (never to /healthz or /openapi.json). Mutable at runtime. */
export interface FaultOptions {
  /** Share of requests answered with `failStatus` (0..1). */
  failRate: number;
  /** Status of an injected failure (e.g. 500, 503, 429, 404). */
  failStatus: number;
  /** The first N data requests fail with `failStatus`. */
  failFirst: number;
  /** Sent as Retry-After (seconds) with injected failures, when set. */
  retryAfterS: number | undefined;
  /** Delay before answering, ms. */
  latencyMs: number;
  /** Never answer a data request (the connection stays open until the client gives up). */
  hang: boolean;
  /** Share of data requests that hang (0..1). */
  hangRate: number;
  /** Share of rows served malformed (0..1); the same rows every time. */
  malformedRate: number;
  /** Seed of the fault decisions. */
  seed: number;
}

/** No faults. */
export function noFaults(): FaultOptions {
  return { failRate: 0, failStatus: 503, failFirst: 0, retryAfterS: undefined, latencyMs: 0, hang: false, hangRate: 0, malformedRate: 0, seed: 1 };
}

/** Per-request decisions of one server. */
export class FaultInjector {
  private readonly prng: Prng;
  private dataRequests = 0;

  constructor(readonly options: FaultOptions) {
    this.prng = new Prng(options.seed);
  }

  /** What to do with the next data request. */
  decide(): { hang: boolean; failStatus: number | undefined } {
    const n = ++this.dataRequests;
    const o = this.options;
    if (o.hang || (o.hangRate > 0 && this.prng.next() < o.hangRate)) return { hang: true, failStatus: undefined };
    if (n <= o.failFirst || (o.failRate > 0 && this.prng.next() < o.failRate)) return { hang: false, failStatus: o.failStatus };
    return { hang: false, failStatus: undefined };
  }

  /** True when some rows are served malformed ({@link maybeMalform} needs each row as an object). */
  malforms(): boolean {
    return this.options.malformedRate > 0;
  }

  /** The row as served: itself, or (for a stable share of ids) a copy broken in one field. */
  maybeMalform(entity: EntityName, row: Row): Row {
    const rate = this.options.malformedRate;
    if (rate <= 0) return row;
    const h = mix32(this.options.seed, hashString(String(row.id)));
    if (h / 4294967296 >= rate) return row;
    const broken = { ...row };
    const kinds = MALFORMATIONS[entity];
    kinds[mix32(h, 7) % kinds.length](broken);
    return broken;
  }
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Ways a row gets broken, per entity: each is something the load's validation must catch. */
const MALFORMATIONS: Readonly<Record<EntityName, ReadonlyArray<(r: Row) => void>>> = {
  cars: [
    (r) => (r.engine_type = 'steam'),
    (r) => (r.registration_date = 'yesterday'),
    (r) => (r.id = ''),
  ],
  customers: [
    (r) => (r.type = 'b2x'),
    (r) => (r.id = null),
    (r) => (r.address_zip = 12345),
  ],
  subscriptions: [
    (r) => (r.term_month = 'eighteen'),
    (r) => (r.monthly_rate = 'four hundred'),
    (r) => (r.start_date = '2023-13-45T00:00:00'),
  ],
};
