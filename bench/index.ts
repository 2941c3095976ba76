/**
 * `npm run bench`: runs each benchmark in its own child process (so peak memory is per benchmark)
 * and lets it print its own figures. `npm run bench -- scheduler ingest` runs only those.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCHMARKS = ['scheduler', 'schedulerPostgres', 'ingest', 'warehouse', 'day', 'engines', 'console'] as const;

const here = path.dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = wanted.filter((w) => !(BENCHMARKS as readonly string[]).includes(w));
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown benchmark '${unknown[0]}' (one of ${BENCHMARKS.join(', ')})\n`);
  process.exit(2);
}
let failed = 0;
for (const name of BENCHMARKS) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  process.stdout.write(`\n=== bench: ${name} ===\n`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, `${name}.ts`)], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed += 1;
    process.stdout.write(`bench ${name} exited with ${result.status ?? result.signal}\n`);
  }
}
process.exit(failed > 0 ? 1 : 0);
