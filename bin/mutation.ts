/**
 * `npm run mutation [-- GROUP...] [--concurrency N] [--force]`: mutation testing of the core with
 * StrykerJS, one Stryker run per module group, each with only the test files that can kill its
 * mutants, so a mutant never waits for the whole suite.
 *
 * Stryker's command runner starts mocha once per mutant: the mocha runner of Stryker 9 needs a mocha
 * older than the one the suite runs on. Reports (HTML, JSON) and the incremental files go to
 * reports/mutation/<group>/ (git-ignored); a group's incremental file is dropped when its test files
 * change, because the command runner cannot tell Stryker which test killed which mutant.
 * Why and what survives: docs/design/mutation.md.
 */
import { Stryker } from '@stryker-mutator/core';
import type { LogLevel, MutantResult, PartialStrykerOptions } from '@stryker-mutator/api/core';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPORTS = 'reports/mutation';

interface Group {
  readonly name: string;
  /** Files (or `file:from-to` line ranges) to mutate. */
  readonly mutate: readonly string[];
  /** The test files that can kill those mutants. */
  readonly tests: readonly string[];
}

export const GROUPS: readonly Group[] = [
  { name: 'lease', mutate: ['scheduler/lease.ts'], tests: ['test/scheduler/lease.test.ts'] },
  { name: 'retryPolicy', mutate: ['scheduler/retryPolicy.ts'], tests: ['test/scheduler/retryPolicy.test.ts'] },
  { name: 'triggerRules', mutate: ['scheduler/triggerRules.ts'], tests: ['test/scheduler/triggerRules.test.ts'] },
  { name: 'timetable', mutate: ['scheduler/timetable.ts'], tests: ['test/core/timetable.test.ts'] },
  { name: 'runCreator', mutate: ['scheduler/runCreator.ts'], tests: ['test/scheduler/runCreator.test.ts'] },
  // The plan only (planBackfill): running a backfill is the executor's, tested end to end elsewhere.
  { name: 'backfillPlan', mutate: ['scheduler/backfill.ts:77-106'], tests: ['test/scheduler/backfillPlan.test.ts'] },
  { name: 'breakers', mutate: ['operators/extract/breakers.ts'], tests: ['test/ingest/breakers.test.ts', 'test/ingest/sourceClient.test.ts'] },
  { name: 'materialize', mutate: ['operators/sql/materialize.ts'], tests: ['test/warehouse/materialize.test.ts', 'test/warehouse/operator.test.ts'] },
];

/** Files every group's tests lean on: a change to them may change what any test kills. */
const SHARED_TEST_FILES = ['.mocharc.json', 'test/helpers', 'test/scheduler/harness.ts'];

function filesUnder(p: string): string[] {
  const abs = path.join(ROOT, p);
  if (!existsSync(abs)) return [];
  if (!statSync(abs).isDirectory()) return [p];
  return readdirSync(abs)
    .sort()
    .flatMap((f) => filesUnder(path.join(p, f)));
}

/** A hash of the group's test files and the shared ones, stored next to its incremental file. */
function testsHash(group: Group): string {
  const h = createHash('sha256');
  for (const f of [...group.tests, ...SHARED_TEST_FILES].flatMap(filesUnder)) h.update(f).update('\0').update(readFileSync(path.join(ROOT, f)));
  return h.digest('hex');
}

function optionsFor(group: Group, concurrency: number, force: boolean): PartialStrykerOptions {
  const dir = `${REPORTS}/${group.name}`;
  return {
    mutate: [...group.mutate],
    testRunner: 'command',
    commandRunner: { command: `node node_modules/mocha/bin/mocha.js --bail ${group.tests.join(' ')}` },
    coverageAnalysis: 'off',
    checkers: ['typescript'],
    tsconfigFile: 'tsconfig.json',
    typescriptChecker: { prioritizePerformanceOverAccuracy: true },
    disableTypeChecks: false,
    concurrency,
    // A mutant that turns a loop endless is a timeout (killed), after this long.
    timeoutMS: 20_000,
    timeoutFactor: 2,
    incremental: true,
    incrementalFile: `${dir}/stryker-incremental.json`,
    force,
    reporters: ['html', 'json', 'clear-text', 'progress'],
    htmlReporter: { fileName: `${dir}/index.html` },
    jsonReporter: { fileName: `${dir}/mutation.json` },
    clearTextReporter: { reportTests: false, reportMutants: true, reportScoreTable: true, allowEmojis: false },
    tempDirName: '.stryker-tmp',
    ignorePatterns: ['/data', '/logs', '/bench/out', '/reports', '/tmp', '*.db', '*.db-wal', '*.db-shm'],
    cleanTempDir: true,
    logLevel: 'info' as LogLevel,
  };
}

/** Stryker's score: killed and timed-out mutants over every mutant a test could reach (compile errors left out). */
function score(results: readonly MutantResult[]): { killed: number; survived: number; noCoverage: number; errors: number; total: number; score: number } {
  let killed = 0;
  let survived = 0;
  let noCoverage = 0;
  let errors = 0;
  for (const r of results) {
    if (r.status === 'Killed' || r.status === 'Timeout') killed += 1;
    else if (r.status === 'Survived') survived += 1;
    else if (r.status === 'NoCoverage') noCoverage += 1;
    else errors += 1;
  }
  const total = killed + survived + noCoverage;
  return { killed, survived, noCoverage, errors, total, score: total === 0 ? 100 : Math.round((10_000 * killed) / total) / 100 };
}

async function main(argv: readonly string[]): Promise<number> {
  let concurrency = 1;
  let force = false;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--force') force = true;
    else if (a === '--concurrency') {
      concurrency = Number(argv[++i]);
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`--concurrency '${argv[i]}' is not a positive integer`);
    } else if (GROUPS.some((g) => g.name === a)) names.push(a);
    else throw new Error(`unknown mutation group or option '${a}' (groups: ${GROUPS.map((g) => g.name).join(', ')})`);
  }
  const chosen = names.length > 0 ? GROUPS.filter((g) => names.includes(g.name)) : GROUPS;
  process.chdir(ROOT);
  const summary: Record<string, ReturnType<typeof score> & { seconds: number }> = {};
  const started = Date.now();
  for (const group of chosen) {
    const dir = path.join(ROOT, REPORTS, group.name);
    mkdirSync(dir, { recursive: true });
    const hashFile = path.join(dir, 'tests.sha256');
    const hash = testsHash(group);
    const stale = !existsSync(hashFile) || readFileSync(hashFile, 'utf8') !== hash;
    if (stale) rmSync(path.join(dir, 'stryker-incremental.json'), { force: true });
    const t0 = Date.now();
    console.log(`\n== mutation group ${group.name}: ${group.mutate.join(' ')} against ${group.tests.join(' ')}`);
    const results = await new Stryker(optionsFor(group, concurrency, force)).runMutationTest();
    writeFileSync(hashFile, hash);
    summary[group.name] = { ...score(results), seconds: Math.round((Date.now() - t0) / 1000) };
  }
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  console.log(`\nmutation score per group (killed + timeout) / (killed + timeout + survived + no coverage), ${minutes} min in all:`);
  for (const [name, s] of Object.entries(summary)) {
    console.log(`  ${name.padEnd(14)} ${String(s.score).padStart(6)}%  killed ${s.killed}, survived ${s.survived}, no coverage ${s.noCoverage}, not run ${s.errors}  (${s.seconds} s)`);
  }
  writeFileSync(path.join(ROOT, REPORTS, 'summary.json'), `${JSON.stringify({ minutes: Number(minutes), groups: summary }, null, 2)}\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
