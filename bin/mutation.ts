/**
 * `npm run mutation [-- --concurrency N] [--force] [--only GROUP,...] [--groups FILE]`: mutation testing of the core with
 * StrykerJS. One Stryker run mutates every module of bin/mutation-groups.json; each mutant runs only
 * the test files of its module's group (bin/mutation-tests.mjs), so a mutant never waits for the
 * whole suite, and the TypeScript checker is set up once.
 *
 * Stryker's command runner starts mocha once per mutant: the mocha runner of Stryker 9 needs a mocha
 * older than the one the suite runs on. The HTML and JSON reports and the incremental file go to
 * reports/mutation/ (git-ignored). The incremental file is dropped whenever a test file changes: the
 * command runner cannot tell Stryker which test killed which mutant, so a survivor's result could
 * otherwise outlive the test written to kill it. Why and what survives: docs/design/mutation.md.
 */
import { Stryker } from '@stryker-mutator/core';
import type { LogLevel, MutantResult, PartialStrykerOptions } from '@stryker-mutator/api/core';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
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

/** Thrown for a bad option of `npm run mutation`. */
export class MutationUsageError extends Error {
  override readonly name = 'MutationUsageError';
  constructor(
    message: string,
    readonly option: string,
  ) {
    super(message);
  }
}

/** Besides each group's tests, what the tests lean on: a change to any may change what a test kills. */
const SHARED_TEST_FILES = ['.mocharc.json', 'test/helpers', 'test/scheduler/harness.ts', 'test/warehouse/fixtures.ts', 'test/fixtures'];

function filesUnder(p: string): string[] {
  const abs = path.join(ROOT, p);
  if (!existsSync(abs)) return [];
  if (!statSync(abs).isDirectory()) return [p];
  return readdirSync(abs)
    .sort()
    .flatMap((f) => filesUnder(path.join(p, f)));
}

function testsHash(groups: readonly Group[], groupsFile: string): string {
  const h = createHash('sha256');
  const files = [groupsFile, ...groups.flatMap((g) => g.tests), ...SHARED_TEST_FILES].flatMap(filesUnder);
  for (const f of files) h.update(f).update('\0').update(readFileSync(path.join(ROOT, f)));
  return h.digest('hex');
}

function options(groups: readonly Group[], dir: string, concurrency: number, force: boolean): PartialStrykerOptions {
  return {
    mutate: groups.flatMap((g) => g.mutate),
    testRunner: 'command',
    commandRunner: { command: 'node bin/mutation-tests.mjs' },
    coverageAnalysis: 'off',
    checkers: ['typescript'],
    tsconfigFile: 'tsconfig.json',
    typescriptChecker: { prioritizePerformanceOverAccuracy: true },
    disableTypeChecks: false,
    // The worktree's node_modules may be a symlink, which Stryker does not follow; the sandbox sits
    // inside the repository, so modules resolve from the real node_modules above it anyway.
    symlinkNodeModules: false,
    concurrency,
    // Mutant timeout: the dry run (every group's tests, so it grows with the machine's load) times 1.5
    // plus this. A mutant whose tests merely run slowly must not count as timed out, which Stryker
    // counts as killed; a test's own mocha timeout (20 s) ends the endless async ones first anyway.
    timeoutMS: 30_000,
    timeoutFactor: 1.5,
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

interface Score {
  readonly killed: number;
  readonly survived: number;
  readonly noCoverage: number;
  /** Compile errors (the TypeScript checker) and runtime errors: not counted, as Stryker does. */
  readonly invalid: number;
  readonly score: number;
}

/** Stryker's mutation score: killed and timed-out mutants over every valid mutant. */
function score(results: readonly MutantResult[]): Score {
  let killed = 0;
  let survived = 0;
  let noCoverage = 0;
  let invalid = 0;
  for (const r of results) {
    if (r.status === 'Killed' || r.status === 'Timeout') killed += 1;
    else if (r.status === 'Survived') survived += 1;
    else if (r.status === 'NoCoverage') noCoverage += 1;
    else invalid += 1;
  }
  const total = killed + survived + noCoverage;
  return { killed, survived, noCoverage, invalid, score: total === 0 ? 100 : Math.floor((10_000 * killed) / total) / 100 };
}

/** The file of a `mutate` entry (without its line range). */
const fileOf = (mutate: string) => mutate.replace(/:[\d:-]+$/, '');

async function main(argv: readonly string[]): Promise<number> {
  // One mutant per core: each runs its own mocha process, and a run on two cores takes half the time.
  let concurrency = os.availableParallelism();
  let force = false;
  let groupsFile = 'bin/mutation-groups.json';
  let only: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--force') force = true;
    else if (a === '--concurrency') {
      concurrency = Number(argv[++i]);
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new MutationUsageError(`--concurrency '${argv[i]}' is not a positive integer`, a);
    } else if (a === '--groups') groupsFile = argv[++i];
    else if (a === '--only') only = (argv[++i] ?? '').split(',').filter(Boolean);
    else throw new MutationUsageError(`unknown option '${a}' (options: --concurrency N, --force, --only GROUP,..., --groups FILE)`, a);
  }
  process.chdir(ROOT);
  const all = (JSON.parse(readFileSync(groupsFile, 'utf8')) as { groups: Group[] }).groups;
  const unknown = (only ?? []).find((n) => !all.some((g) => g.name === n));
  if (unknown !== undefined) throw new MutationUsageError(`--only: no group '${unknown}' in ${groupsFile} (groups: ${all.map((g) => g.name).join(', ')})`, '--only');
  // A subset runs apart (its own reports and incremental file), so it never spoils the whole run's.
  const groups = only ? all.filter((g) => only.includes(g.name)) : all;
  const dir = `${REPORTS}/${path.basename(groupsFile, '.json').replace(/^mutation-groups$/, 'core')}${only ? `-${only.join('-')}` : ''}`;
  mkdirSync(dir, { recursive: true });
  const hashFile = path.join(dir, 'tests.sha256');
  const hash = testsHash(groups, groupsFile);
  if (!existsSync(hashFile) || readFileSync(hashFile, 'utf8') !== hash) rmSync(path.join(dir, 'stryker-incremental.json'), { force: true });
  process.env.DRIVETRAIN_MUTATION_GROUPS = groupsFile;
  if (only) process.env.DRIVETRAIN_MUTATION_ONLY = only.join(',');
  else delete process.env.DRIVETRAIN_MUTATION_ONLY;
  const started = Date.now();
  const results = await new Stryker(options(groups, dir, concurrency, force)).runMutationTest();
  writeFileSync(hashFile, hash);
  const minutes = Number(((Date.now() - started) / 60_000).toFixed(1));
  const perGroup = Object.fromEntries(
    groups.map((g) => {
      const files = new Set(g.mutate.map(fileOf));
      return [g.name, score(results.filter((r) => files.has(path.relative(ROOT, path.resolve(ROOT, r.fileName)))))];
    }),
  );
  console.log(`\nmutation score per group, ${minutes} min (reports in ${dir}/):`);
  for (const [name, s] of Object.entries(perGroup)) {
    console.log(`  ${name.padEnd(14)} ${s.score.toFixed(2).padStart(6)}%  killed ${s.killed}, survived ${s.survived}, no coverage ${s.noCoverage}, invalid ${s.invalid}`);
  }
  writeFileSync(path.join(dir, 'summary.json'), `${JSON.stringify({ minutes, concurrency, groups: perGroup }, null, 2)}\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
