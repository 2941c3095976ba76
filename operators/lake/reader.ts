/**
 * Reads a complete lake partition: refuses one without `_SUCCESS`, verifies each part's bytes, sha256
 * and row count against the manifest while streaming it. A mismatch is detected at the end of the part,
 * after its rows were handed out, so consumers must apply rows transactionally (the load does).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import { LakePartitionError } from './LakePartitionError.js';
import { MANIFEST_FILE, partitionDir, type LakeManifest } from './manifest.js';

/** The manifest of a complete partition; throws {@link LakePartitionError} when there is none. */
export async function readManifest(lakeDir: string, entity: string, ds: string): Promise<LakeManifest> {
  const dir = partitionDir(lakeDir, entity, ds);
  let text: string;
  try {
    text = await readFile(path.join(dir, MANIFEST_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new LakePartitionError(`lake partition ${entity}/ds=${ds} is missing or incomplete (no ${MANIFEST_FILE} in '${dir}'): run the extract first`, dir);
    }
    throw err;
  }
  let manifest: LakeManifest;
  try {
    manifest = JSON.parse(text) as LakeManifest;
  } catch {
    throw new LakePartitionError(`lake partition ${entity}/ds=${ds}: ${MANIFEST_FILE} is not JSON`, dir);
  }
  if (manifest.entity !== entity || manifest.ds !== ds || !Array.isArray(manifest.parts)) {
    throw new LakePartitionError(`lake partition ${entity}/ds=${ds}: ${MANIFEST_FILE} describes '${manifest.entity}' ds '${manifest.ds}'`, dir);
  }
  return manifest;
}

/** Batches of raw lines (one row's JSON text each) of a complete partition, in order, verified. */
export async function* readLakeLines(lakeDir: string, entity: string, ds: string, manifest?: LakeManifest): AsyncGenerator<string[]> {
  const m = manifest ?? (await readManifest(lakeDir, entity, ds));
  const dir = partitionDir(lakeDir, entity, ds);
  let total = 0;
  for (const part of m.parts) {
    const file = path.join(dir, part.file);
    const hash = createHash('sha256');
    let bytes = 0;
    const input = createReadStream(file, { highWaterMark: 256 * 1024 });
    input.on('data', (chunk) => {
      bytes += chunk.length;
      hash.update(chunk as Buffer);
    });
    // 64 KB output chunks: zlib's default 16 KB costs a callback and a split per 16 KB; much bigger
    // ones gain nothing more and their text lands in V8's large-object space (a higher peak RSS).
    const gunzip = createGunzip({ chunkSize: 64 * 1024 });
    input.on('error', (err) => gunzip.destroy(err));
    input.pipe(gunzip);
    // Lines are cut at the last newline of each chunk, in bytes (a newline byte never occurs inside a
    // UTF-8 sequence), so a chunk is decoded once and no decoder state is needed.
    let rest: Buffer | undefined;
    let rows = 0;
    try {
      for await (const chunk of gunzip) {
        let buf = chunk as Buffer;
        const cut = buf.lastIndexOf(10);
        if (cut < 0) {
          rest = rest ? Buffer.concat([rest, buf]) : buf;
          continue;
        }
        if (rest) {
          buf = Buffer.concat([rest, buf]);
          rest = undefined;
        }
        const end = buf.length - (chunk as Buffer).length + cut;
        const lines = buf.toString('utf8', 0, end).split('\n');
        if (end + 1 < buf.length) rest = buf.subarray(end + 1);
        rows += lines.length;
        yield lines;
      }
    } catch (err) {
      throw new LakePartitionError(`lake partition ${entity}/ds=${ds}: ${part.file} is unreadable: ${(err as Error).message}`, dir);
    } finally {
      input.destroy();
    }
    if (rest && rest.length > 0) throw new LakePartitionError(`lake partition ${entity}/ds=${ds}: ${part.file} ends without a newline`, dir);
    const sha = hash.digest('hex');
    if (bytes !== part.bytes || sha !== part.sha256) {
      throw new LakePartitionError(`lake partition ${entity}/ds=${ds}: ${part.file} has ${bytes} bytes, sha256 ${sha}; the manifest says ${part.bytes} bytes, ${part.sha256}`, dir);
    }
    if (rows !== part.rows) throw new LakePartitionError(`lake partition ${entity}/ds=${ds}: ${part.file} has ${rows} rows; the manifest says ${part.rows}`, dir);
    total += rows;
  }
  if (total !== m.rows) throw new LakePartitionError(`lake partition ${entity}/ds=${ds} has ${total} rows; the manifest says ${m.rows}`, dir);
}

/** The rows of a complete partition, parsed, as an async iterable (flat memory: one chunk at a time). */
export async function* readLakePartition(lakeDir: string, entity: string, ds: string): AsyncGenerator<Record<string, unknown>> {
  for await (const lines of readLakeLines(lakeDir, entity, ds)) {
    for (const line of lines) yield JSON.parse(line) as Record<string, unknown>;
  }
}
