/**
 * The two seams between the load (loadTask.ts) and the machinery that makes it fast (fast/, see
 * docs/design/load-fast-path.md): one turns a lake partition into batches of prepared rows and
 * rejects, the other writes those batches into the load's transaction. The load sees batches only as
 * row counts it passes along.
 */
import type { Entity } from '../entities.js';
import type { LakeManifest } from '../lake/manifest.js';
import type { InsertBatch } from './fast/BatchBuilder.js';
import type { PreviousPartition } from './fast/PreviousPartition.js';

/** The lake partition a load reads. */
export interface PartitionToLoad {
  /** The lake's root folder. */
  readonly lakeDir: string;
  /** The entity, and so the raw table. */
  readonly entity: Entity;
  /** The partition's (and the raw partition's) date. */
  readonly ds: string;
  /** Its manifest, already read (and so the partition known complete). */
  readonly manifest: LakeManifest;
  /** The task's signal: a wait on other threads stops when it aborts. */
  readonly signal?: AbortSignal;
  /** The raw partition whose rows may be copied for lines that did not change (SQLite only). */
  readonly previous?: PreviousPartition;
  /** Where a preparer that checks the rows' business keys says what it found (KeyCheck). */
  readonly keys?: KeyCheck;
}

/**
 * Whether a partition's rows have distinct business keys once normalised as hash keys are (trimmed,
 * upper-cased: `a1` and `A1 ` are one key). A satellite load may skip copied rows only then: with two
 * rows of one key, which one it compares depends on every row of the partition (docs/design/vault-loads.md).
 */
export interface KeyCheck {
  /** Set by the preparer once every row is out: true when no two rows share a key, false when two may. */
  unique?: boolean;
}

/** Rows copied from the previous raw partition: `ranges` holds, per run of them, the first and last
 * rowid there, the first's line in the previous lake partition and its line in this one (the rest
 * follow one line a row in both). */
export interface CarriedRows {
  readonly rows: number;
  readonly ranges: readonly number[];
}

/**
 * Rows for one INSERT into the raw table (`rows`) or into `rejects`, in a form only the writer reads,
 * or rows carried from the previous partition (`carried`); `batch.rows` is their count.
 */
export type PreparedBatch =
  | { readonly into: 'rows' | 'rejects'; readonly batch: InsertBatch }
  | { readonly into: 'carried'; readonly batch: CarriedRows };

/** Turns a lake partition into batches: every line valid and new in the raw batches, else in a reject batch. */
export interface PartitionPreparer {
  /**
   * The partition's batches in lake order. `inserted` says which of some ids the rows written so far
   * hold: the preparer may ask it about ids it is unsure it has seen, once every batch it yielded
   * before is written.
   */
  prepare(partition: PartitionToLoad, inserted: (ids: readonly string[]) => Promise<ReadonlySet<string>>): AsyncIterable<PreparedBatch>;
}

/** Writes prepared batches into the raw partition and `rejects`, inside the load's transaction. */
export interface BatchSink {
  /** Starts writing `batch` (a failure surfaces by the next call at the latest). */
  write(batch: PreparedBatch): Promise<void>;
  /** Which of `ids` the raw partition holds, counting every batch written so far. */
  inserted(ids: readonly string[]): Promise<ReadonlySet<string>>;
  /** Waits until every batch written is in. */
  flush(): Promise<void>;
  /**
   * Once flushed: the rowids of the rows written from `rows` batches (not carried), as first, last pairs
   * of consecutive ones; undefined where rows have no rowid (PostgreSQL).
   */
  preparedRowids(): readonly number[] | undefined;
  /** Releases the statements (after a failure too). */
  close(): Promise<void>;
}
