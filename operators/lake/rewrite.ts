/**
 * Rewrites lines of a complete lake partition in place, crash-safely, for an erasure: the lake is the
 * only copy of what the source served that day, so a partition is never absent, not even for a moment
 * (the writer's directory swap is). Each part holding a changed line is written anew under a new name
 * and fsynced; then a new `_SUCCESS` naming the new parts is written, fsynced and renamed over the old
 * one (the one atomic step), the directory fsynced, and only then the replaced parts removed. A crash
 * leaves the old manifest with its parts, or the new one with its parts, plus at most some unlisted files.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { PRIVATE_FILE_MODE } from '../../scheduler/privateFiles.js';
import { LakePartitionError } from './LakePartitionError.js';
import { MANIFEST_FILE, partitionDir, type LakeManifest, type LakePart } from './manifest.js';
import { readManifest } from './reader.js';

/** A line's new bytes (without its newline), or undefined to keep it as it is. */
export type LineRewrite = (line: Buffer) => Buffer | undefined;

/** What a rewrite changed. */
export interface PartitionRewrite {
  /** Lines replaced. */
  readonly lines: number;
  /** Part files replaced. */
  readonly parts: number;
}

async function syncPath(file: string): Promise<void> {
  const fh = await open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A part's lines, verified against the manifest (bytes, sha256, rows), each without its newline. */
async function partLines(dir: string, part: LakePart, where: string): Promise<Buffer[]> {
  const gz = await readFile(path.join(dir, part.file));
  const sha = createHash('sha256').update(gz).digest('hex');
  if (gz.length !== part.bytes || sha !== part.sha256) {
    throw new LakePartitionError(`lake partition ${where}: ${part.file} has ${gz.length} bytes, sha256 ${sha}; the manifest says ${part.bytes} bytes, ${part.sha256}`, dir);
  }
  const text = gunzipSync(gz);
  if (text.length > 0 && text[text.length - 1] !== 10) throw new LakePartitionError(`lake partition ${where}: ${part.file} ends without a newline`, dir);
  const lines: Buffer[] = [];
  for (let start = 0; start < text.length; ) {
    const nl = text.indexOf(10, start);
    lines.push(text.subarray(start, nl));
    start = nl + 1;
  }
  if (lines.length !== part.rows) throw new LakePartitionError(`lake partition ${where}: ${part.file} has ${lines.length} rows; the manifest says ${part.rows}`, dir);
  return lines;
}

/**
 * Applies `rewrite` to every line of the complete partition `entity`/`ds`; writes nothing when no line
 * changes. Not for a partition an extract is writing at the same time (the extract would win).
 */
export async function rewritePartition(lakeDir: string, entity: string, ds: string, rewrite: LineRewrite): Promise<PartitionRewrite> {
  const dir = partitionDir(lakeDir, entity, ds);
  const where = `${entity}/ds=${ds}`;
  const manifest = await readManifest(lakeDir, entity, ds);
  const parts: LakePart[] = [];
  const replaced: string[] = [];
  let changedLines = 0;
  for (const part of manifest.parts) {
    const lines = await partLines(dir, part, where);
    let changed = 0;
    const out = lines.map((line) => {
      const next = rewrite(line);
      if (next === undefined) return line;
      if (next.includes(10)) throw new RangeError(`a rewritten line of ${where} holds a newline`);
      changed++;
      return next;
    });
    if (changed === 0) {
      parts.push(part);
      continue;
    }
    const gz = gzipSync(Buffer.concat(out.flatMap((l) => [l, Buffer.from('\n')])), { level: 1 });
    const file = `${part.file.replace(/\.ndjson\.gz$/, '')}.${randomBytes(4).toString('hex')}.ndjson.gz`;
    await writeFile(path.join(dir, file), gz, { mode: PRIVATE_FILE_MODE });
    await syncPath(path.join(dir, file));
    parts.push({ file, rows: part.rows, bytes: gz.length, sha256: createHash('sha256').update(gz).digest('hex') });
    replaced.push(part.file);
    changedLines += changed;
  }
  if (replaced.length === 0) return { lines: 0, parts: 0 };
  const next: LakeManifest = { ...manifest, parts };
  const tmp = path.join(dir, `.${MANIFEST_FILE}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await writeFile(tmp, JSON.stringify(next, null, 2) + '\n', { mode: PRIVATE_FILE_MODE });
  await syncPath(tmp);
  await rename(tmp, path.join(dir, MANIFEST_FILE));
  await syncPath(dir);
  for (const file of replaced) await rm(path.join(dir, file), { force: true });
  return { lines: changedLines, parts: replaced.length };
}
