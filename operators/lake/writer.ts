/**
 * Writes one lake partition crash-safely: parts go to a temporary sibling directory
 * (`.ds=<ds>.tmp-<pid>-<rand>`), `_SUCCESS` is written last, and only then is the directory swapped into
 * place (old renamed away, new renamed in, old removed). A crash at any point leaves either the previous
 * complete partition, or none; never a directory named `ds=<ds>` without its manifest for the new data.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile, open } from 'node:fs/promises';
import path from 'node:path';
import { createGzip, constants as zlibConstants, type Gzip } from 'node:zlib';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../../scheduler/privateFiles.js';
import { redactUrl } from '../../scheduler/redact.js';
import { MANIFEST_FILE, partFileName, partitionDir, type LakeManifest, type LakePart } from './manifest.js';

/** Options of {@link LakePartitionWriter.open}. */
export interface LakeWriterOptions {
  /** Rows per part file; a part is closed at the first line boundary past this. Default 100,000. */
  readonly partRows?: number;
  /** gzip level: 1 is fast and shrinks NDJSON well; the lake is written once and read once. Default 1. */
  readonly gzipLevel?: number;
}

interface OpenPart {
  readonly file: string;
  readonly gzip: Gzip;
  readonly out: WriteStream;
  readonly hash: Hash;
  bytes: number;
  rows: number;
  /** Settles when the file is flushed and closed. */
  readonly done: Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes the parts of one partition, then commits it atomically. */
export class LakePartitionWriter {
  private readonly parts: LakePart[] = [];
  private current: OpenPart | undefined;
  private rowsTotal = 0;
  private finished = false;

  private constructor(
    readonly entity: string,
    readonly ds: string,
    /** The final directory. */
    readonly dir: string,
    /** The temporary directory parts are written into. */
    readonly tmpDir: string,
    private readonly partRows: number,
    private readonly gzipLevel: number,
  ) {}

  /** Starts a new partition write; removes temporary directories of dead writers of the same partition. */
  static async open(lakeDir: string, entity: string, ds: string, options: LakeWriterOptions = {}): Promise<LakePartitionWriter> {
    const dir = partitionDir(lakeDir, entity, ds);
    const parent = path.dirname(dir);
    await mkdir(parent, { recursive: true, mode: PRIVATE_DIR_MODE });
    const base = path.basename(dir);
    for (const name of await readdir(parent)) {
      const m = name.match(/^\.(.+)\.(?:tmp|old)-(\d+)-[0-9a-f]+$/);
      if (m && m[1] === base && !isAlive(Number(m[2]))) await rm(path.join(parent, name), { recursive: true, force: true });
    }
    const tmpDir = path.join(parent, `.${base}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(tmpDir, { mode: PRIVATE_DIR_MODE });
    return new LakePartitionWriter(entity, ds, dir, tmpDir, options.partRows ?? 100_000, options.gzipLevel ?? 1);
  }

  /** Rows written so far. */
  get rows(): number {
    return this.rowsTotal;
  }

  private startPart(): OpenPart {
    const file = partFileName(this.parts.length);
    // Output chunks larger than zlib's default: fewer callbacks and hash updates per part
    // (docs/design/lake-format.md).
    // memLevel 9 (zlib's largest hash table): less CPU at level 1 on NDJSON for the same size.
    const gzip = createGzip({ level: this.gzipLevel, memLevel: 9, chunkSize: 256 * 1024, strategy: zlibConstants.Z_DEFAULT_STRATEGY });
    const out = createWriteStream(path.join(this.tmpDir, file), { mode: PRIVATE_FILE_MODE });
    const hash = createHash('sha256');
    const part: OpenPart = {
      file,
      gzip,
      out,
      hash,
      bytes: 0,
      rows: 0,
      done: new Promise<void>((resolve, reject) => {
        out.on('close', resolve);
        out.on('error', reject);
        gzip.on('error', reject);
      }),
    };
    gzip.on('data', (chunk: Buffer) => {
      part.bytes += chunk.length;
      hash.update(chunk);
    });
    gzip.pipe(out);
    // The promise is awaited at close; this keeps an early error from being an unhandled rejection.
    part.done.catch(() => {});
    return part;
  }

  private async closePart(): Promise<void> {
    const part = this.current;
    if (!part) return;
    this.current = undefined;
    part.gzip.end();
    await part.done;
    this.parts.push({ file: part.file, rows: part.rows, bytes: part.bytes, sha256: part.hash.digest('hex') });
  }

  /** Appends rows, each one JSON text without newlines; waits while the gzip stream is backed up. */
  async writeLines(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    await this.writeNdjson(Buffer.from(lines.join('\n') + '\n', 'utf8'), lines.length);
  }

  /**
   * Appends `rows` rows given as NDJSON bytes (each row one line ending in '\n'; the caller counts them)
   * in one write: the extract hands over whole pages this way, never a string per row. The caller may
   * reuse `data` only once `consumed` was called (gzip has read it). Waits while gzip is backed up.
   */
  async writeNdjson(data: Uint8Array, rows: number, consumed?: () => void): Promise<void> {
    if (this.finished) throw new Error('the partition writer is already committed or aborted');
    if (rows === 0) {
      consumed?.();
      return;
    }
    this.current ??= this.startPart();
    const part = this.current;
    part.rows += rows;
    this.rowsTotal += rows;
    if (!part.gzip.write(data, consumed && ((err) => void (err ? undefined : consumed())))) await once(part.gzip, 'drain');
    if (part.rows >= this.partRows) await this.closePart();
  }

  /** Forgets every row written so far (a request restarting from the first row, e.g. the unpaged API retried). */
  async reset(): Promise<void> {
    const part = this.current;
    this.current = undefined;
    if (part) {
      part.gzip.end();
      await part.done.catch(() => {});
    }
    this.parts.length = 0;
    this.rowsTotal = 0;
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { mode: PRIVATE_DIR_MODE });
  }

  /** Writes `_SUCCESS` and swaps the partition into place. Returns the manifest. */
  async commit(sourceUrl: string, fetchedAt: Date): Promise<LakeManifest> {
    await this.closePart();
    this.finished = true;
    const manifest: LakeManifest = {
      entity: this.entity,
      ds: this.ds,
      rows: this.rowsTotal,
      parts: this.parts,
      // The URL as it may be shown: a manifest outlives the process and is read by anyone with the lake.
      source_url: redactUrl(sourceUrl),
      fetched_at: fetchedAt.toISOString(),
    };
    const manifestPath = path.join(this.tmpDir, MANIFEST_FILE);
    await writeFile(manifestPath, JSON.stringify(manifest, null, 2) + '\n', { mode: PRIVATE_FILE_MODE });
    // fsync the manifest: after a power loss a rename must not expose a manifest that was never written.
    const fh = await open(manifestPath, 'r');
    await fh.sync();
    await fh.close();
    const old = path.join(path.dirname(this.dir), `.${path.basename(this.dir)}.old-${process.pid}-${randomBytes(4).toString('hex')}`);
    let hadOld = true;
    try {
      await rename(this.dir, old);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      hadOld = false;
    }
    await rename(this.tmpDir, this.dir);
    if (hadOld) await rm(old, { recursive: true, force: true });
    return manifest;
  }

  /** Discards everything written; the previous partition (if any) stays as it was. */
  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const part = this.current;
    this.current = undefined;
    if (part) {
      part.gzip.destroy();
      part.out.destroy();
    }
    await rm(this.tmpDir, { recursive: true, force: true });
  }
}
