/**
 * The sample source as a process of its own (benchmarks keep its CPU and memory apart; CLI tests see
 * the real command): spawns `drivetrain source ...` and waits for the JSON line with its URL.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'drivetrain.ts');

/** A running source process and the base URL it printed. */
export interface SourceProcess {
  readonly child: ChildProcessByStdio<null, Readable, null>;
  readonly url: string;
}

/** Starts `drivetrain source <args>` (give `--port 0` for a free port); rejects if it exits first. */
export async function spawnSourceProcess(args: readonly string[]): Promise<SourceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', BIN, 'source', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /"url":"([^"]+)"/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`source exited with ${code} before printing its URL: ${out}`)));
  });
  return { child, url };
}
