/**
 * What the main thread and the heartbeat thread (heartbeat.ts, heartbeatWorker.ts) say to each other.
 * Types and a few constants: both sides import them, neither loads the other's code.
 */

/** A task instance an attempt covers, at the try it runs as. */
export interface TrackedItem {
  readonly id: number;
  readonly tryNumber: number;
}

/** What the worker needs to serve /healthz and /metrics for the daemon. */
export interface ServeOptions {
  readonly host: string;
  readonly port: number;
  /** The metadata database (a file or a postgres:// URL): /healthz checks it accepts a write. */
  readonly metadataFile: string;
  /** The warehouse file: /healthz checks it is still the file the daemon started on. */
  readonly warehouseFile: string;
  /** How old the scheduler loop's last turn may be while the event loop is free (one lease). */
  readonly staleLoopMs: number;
  /** How long the event loop may stay blocked while no task runs (a DAG import, within its time limit). */
  readonly blockedLimitMs: number;
}

/** A ConfigError (or other error) crossing the thread boundary. */
export interface ErrorData {
  readonly name: string;
  readonly message: string;
  readonly setting?: string;
}

/** Main thread to heartbeat thread. */
export type ToHeartbeat =
  /** Renew the leases `owner` holds in `file` every `everyMs`, each for `leaseMs`. */
  | { readonly kind: 'keep'; readonly owner: string; readonly file: string; readonly leaseMs: number; readonly everyMs: number }
  /** Stop renewing for `owner`; answered by a reply. */
  | { readonly kind: 'release'; readonly ref: number; readonly owner: string }
  /** An attempt started; past `deadlineMs` (its timeout) its leases are no longer renewed. */
  | { readonly kind: 'track'; readonly owner: string; readonly key: number; readonly items: readonly TrackedItem[]; readonly deadlineMs: number | null }
  /** The attempt ended: its leases are renewed with the owner's until its completion is recorded. */
  | { readonly kind: 'finished'; readonly owner: string; readonly key: number }
  /** Start the health and metrics listener; answered by a reply with the port or the error. */
  | ({ readonly kind: 'serve'; readonly ref: number } & ServeOptions)
  /** Stop the listener; answered by a reply. */
  | { readonly kind: 'unserve'; readonly ref: number }
  /** Forward every other path of the listener to the web console on 127.0.0.1:`port` (the main thread's). */
  | { readonly kind: 'console'; readonly port: number }
  /** The answer to a `metrics?`: the main thread's registry as Prometheus text. */
  | { readonly kind: 'metrics'; readonly ref: number; readonly contentType: string; readonly text: string };

/** Heartbeat thread to main thread. */
export type FromHeartbeat =
  | { readonly kind: 'reply'; readonly ref: number; readonly port?: number; readonly error?: ErrorData }
  /** Another process holds an instance of the attempt now (or it stopped running): abort it. */
  | { readonly kind: 'lost'; readonly owner: string; readonly key: number; readonly holder: string | null }
  /** Something failed in the thread (a renewal); for the scheduler log. */
  | { readonly kind: 'error'; readonly owner?: string; readonly message: string }
  /** /metrics asks for the main thread's registry. */
  | { readonly kind: 'metrics?'; readonly ref: number };

/** Slots of the shared clock the main thread writes and the heartbeat thread reads (epoch ms). */
export const CLOCK_SLOTS = {
  /** The main thread's event loop last ran its beat timer. */
  beat: 0,
  /** The scheduler loop last turned, or the loop last came back from a block, whichever is later; 0 before its first turn. */
  tick: 1,
} as const;

/** How often the main thread's loop stamps the shared clock. */
export const BEAT_MS = 250;
/** A loop that has not stamped the clock for this long is blocked (several beats, above ordinary lag). */
export const BLOCKED_AFTER_MS = 1000;
