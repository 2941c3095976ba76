/** The lake's layout and the `_SUCCESS` manifest that marks a partition complete. */
import path from 'node:path';

/** One part file of a partition. */
export interface LakePart {
  /** File name inside the partition directory, e.g. `part-00000.ndjson.gz`. */
  readonly file: string;
  /** Rows (lines) in the part. */
  readonly rows: number;
  /** Compressed size in bytes. */
  readonly bytes: number;
  /** Hex sha256 of the compressed file. */
  readonly sha256: string;
}

/** Content of `_SUCCESS`: written last, so its presence means the partition is complete. */
export interface LakeManifest {
  readonly entity: string;
  readonly ds: string;
  /** Total rows over all parts. */
  readonly rows: number;
  readonly parts: readonly LakePart[];
  /** Where the rows came from (first request's URL without the cursor), its password redacted (`***`). */
  readonly source_url: string;
  /** When the extract finished (ISO, wall clock: audit metadata only, never used by data logic). */
  readonly fetched_at: string;
}

export const MANIFEST_FILE = '_SUCCESS';

/** `$lakeDir/<entity>/ds=<ds>`. */
export function partitionDir(lakeDir: string, entity: string, ds: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(ds)) throw new RangeError(`ds '${ds}' is not YYYY-MM-DD`);
  if (!/^[a-z_][a-z0-9_]*$/.test(entity)) throw new RangeError(`entity '${entity}' is not a plain name`);
  return path.join(lakeDir, entity, `ds=${ds}`);
}

/** Part file name n, zero-padded so a directory listing sorts in write order. */
export function partFileName(n: number): string {
  return `part-${String(n).padStart(5, '0')}.ndjson.gz`;
}
