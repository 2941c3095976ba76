/**
 * Reading what a process loaded, as recorded by recordImports.mjs, for the tests that pin what a
 * command loads (`--help` nothing but the definitions, `source` none of the scheduler).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The scheduler's modules that defining the commands loads: the command definitions and what they
 * need at parse time (the date parser, the usage errors, the umask), none of an implementation.
 */
export const SCHEDULER_DEFINITION_MODULES: readonly string[] = [
  'scheduler/cli/args.ts',
  'scheduler/cli/main.ts',
  'scheduler/cli/program.ts',
  'scheduler/dates.ts',
  'scheduler/errors/ConfigError.ts',
  'scheduler/errors/DateRangeError.ts',
  'scheduler/errors/InvalidDateError.ts',
  'scheduler/errors/UsageError.ts',
  'scheduler/privateFiles.ts',
];

/** Every module URL recorded in `file`, in load order (repeats included). */
export function recordedImports(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((u) => u.startsWith('file://'));
}

/** The repository's own modules recorded in `file`, relative to `repo`, each once, sorted. */
export function repoModulesLoaded(file: string, repo: string): string[] {
  const ours = recordedImports(file)
    .map((u) => fileURLToPath(u))
    .filter((f) => !f.includes(`${path.sep}node_modules${path.sep}`))
    .map((f) => path.relative(repo, f));
  return [...new Set(ours)].sort();
}
