/**
 * Loads the DAG files of a folder into a DagBag, and reloads them when the folder changes.
 *
 * A DAG file is any `*.ts` file in the folder (not recursive) except `*.d.ts` and names starting with
 * `_` or `.` (use those for shared helpers). It must `export default defineDag({...})`. A file that
 * fails to import (syntax error, missing import, a throw at module level, a DagDefinitionError for a
 * cycle / duplicate / unknown upstream), that exports something else, or whose DAG id another file
 * already took, becomes a one-line {file, reason} error; every other file still loads.
 *
 * A file to be evaluated is first imported in a worker thread that is stopped when it overruns
 * (importProbe.ts): a top level that spins would otherwise block this thread, freeze the daemon and get
 * the files imported beside it blamed for its delay. Only files that finished there are imported here.
 *
 * Reloading: the folder has a version, a hash of the names, times and sizes of its `.ts` files. Each
 * DAG file is imported as `file.ts?dtv=<version>`, so after any change in the folder it is a new module
 * to Node's ESM loader (tsx honours the query) and with no change it comes from the module cache. A
 * resolve hook (registered once) gives modules a DAG file imports from its own folder or below (its
 * helpers, `_common.ts`) the same query, so they are re-evaluated with it and a helper fixed after a
 * syntax error loads again (Node caches a failed ES module for good under its URL). Modules outside
 * the folder (operators/, scheduler/, packages) keep one instance: they are not reloaded.
 *
 * A folder outside any `"type": "module"` package makes tsx load the files as CommonJS, where neither
 * the query nor the hook applies; the loader then drops the folder's files from require.cache before
 * importing, with the same effect.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { createRequire, register } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDag } from './dag.js';
import { ConfigError } from './errors/ConfigError.js';
import type { Dag, DagImportError, Logger } from './interfaces.js';
import { importTimeoutReason, probeImports } from './importProbe.js';
import { checkDagPools, type Pools } from './pools.js';
import type { Settings } from './settings.js';

/** The DAGs of a folder and the files that could not be loaded. */
export interface DagBag {
  /** Loaded DAGs by id. */
  readonly dags: ReadonlyMap<string, Dag>;
  /** Files that could not be loaded, in file-name order. */
  readonly errors: readonly DagImportError[];
}

/** The import time limit of a DAG file, unless {@link LoadDagBagOptions.importTimeoutMs} says otherwise. */
export const DEFAULT_IMPORT_TIMEOUT_MS = 30_000;

/** Options of {@link loadDagBag}. */
export interface LoadDagBagOptions {
  /** A file whose import has not settled after this long is reported as an error. Default {@link DEFAULT_IMPORT_TIMEOUT_MS}. */
  readonly importTimeoutMs?: number;
  /**
   * Import each file to be evaluated first in a worker thread that is stopped when it overruns
   * (importProbe.ts), so a file that spins cannot freeze this thread. Default true.
   */
  readonly probe?: boolean;
  /** The declared pools: a DAG whose task names another, or needs more slots than its pool has, fails to load. Default: not checked. */
  readonly pools?: Pools;
}

/** Options of {@link watchDagBag}. */
export interface WatchDagBagOptions extends LoadDagBagOptions {
  /** Quiet time after the last change before reloading; editors write a file in several steps. Default 300 ms. */
  readonly debounceMs?: number;
  /**
   * Also compare the folder's file times every this many ms, for file systems where fs.watch misses
   * events (network and some container bind mounts). 0 turns polling off. Default 2000 ms.
   */
  readonly pollMs?: number;
  /** Use fs.watch events. Default true; false leaves only polling (for file systems without events). */
  readonly fsEvents?: boolean;
}

/** Longest reason kept; a reason is one line for `dags list` and the log. */
const MAX_REASON = 300;

/** True for names the loader treats as DAG files. */
export function isDagFileName(name: string): boolean {
  return name.endsWith('.ts') && !name.endsWith('.d.ts') && !name.startsWith('_') && !name.startsWith('.');
}

const requireCache = createRequire(import.meta.url).cache;

/** The query parameter carrying a folder version; the resolve hook below looks for it. */
const VERSION_PARAM = 'dtv';

/**
 * Runs in Node's loader thread: a module imported by a versioned module, resolving to a file in the
 * importer's folder or below (not node_modules), gets the importer's version too.
 */
const RESOLVE_HOOK = `
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  const parent = context.parentURL;
  if (!parent || !parent.startsWith('file:') || !r.url.startsWith('file:') || r.url.includes('/node_modules/')) return r;
  const p = new URL(parent);
  const v = p.searchParams.get('${VERSION_PARAM}');
  if (v === null) return r;
  const u = new URL(r.url);
  if (u.searchParams.has('${VERSION_PARAM}') || !u.pathname.startsWith(p.pathname.slice(0, p.pathname.lastIndexOf('/') + 1))) return r;
  u.searchParams.set('${VERSION_PARAM}', v);
  return { ...r, url: u.href };
}`;

let hookRegistered = false;
/** Registers {@link RESOLVE_HOOK} once. Without it (no module.register), helpers are simply not reloaded. */
function registerResolveHook(): void {
  if (hookRegistered) return;
  hookRegistered = true;
  try {
    register(`data:text/javascript,${encodeURIComponent(RESOLVE_HOOK)}`);
  } catch {
    // Node without module.register: DAG files still reload, their helpers keep their first version.
  }
}

/** Names, times and sizes of the `.ts` files directly in `dir`: any edit, addition or removal changes it. */
function fingerprint(dir: string): string {
  try {
    const parts: string[] = [];
    for (const name of readdirSync(dir).sort()) {
      if (!name.endsWith('.ts')) continue;
      try {
        const s = statSync(path.join(dir, name));
        parts.push(`${name}:${s.mtimeMs}:${s.size}`);
      } catch {
        parts.push(`${name}:gone`);
      }
    }
    return parts.join('|');
  } catch (err) {
    return `unreadable:${(err as NodeJS.ErrnoException).code ?? ''}`;
  }
}

/** The folder's version: a short hash of its fingerprint. */
function folderVersion(dir: string): string {
  return createHash('sha1').update(fingerprint(dir)).digest('hex').slice(0, 12);
}

/** The version each file was last imported at, and whether that import failed. */
const imported = new Map<string, { version: string; failed: boolean }>();
let retryCounter = 0;

/**
 * Imports one DAG file at the folder's `version`. A file whose import failed at this same version is
 * retried under a fresh one: a missing import may have appeared since, without the folder changing.
 */
async function importVersion(file: string, folder: string): Promise<unknown> {
  const prev = imported.get(file);
  let version = folder;
  if (prev && prev.version.split('-')[0] === folder) version = prev.failed ? `${folder}-${++retryCounter}` : prev.version;
  imported.set(file, { version, failed: false });
  try {
    return await import(`${pathToFileURL(file).href}?${VERSION_PARAM}=${version}`);
  } catch (err) {
    imported.set(file, { version, failed: true });
    throw err;
  }
}

/** True when importing `file` at the folder's `version` evaluates it (not served from the module cache). */
function willEvaluate(file: string, version: string): boolean {
  const prev = imported.get(file);
  return !prev || prev.failed || prev.version.split('-')[0] !== version;
}

/** CommonJS scope: forgets the folder's modules (DAG files and helpers), so the next import re-evaluates them. */
function forgetRequired(dir: string): void {
  const prefix = dir + path.sep;
  for (const key of Object.keys(requireCache)) {
    if (key.startsWith(prefix) && !key.includes(`${path.sep}node_modules${path.sep}`)) delete requireCache[key];
  }
}

/** An import that overran: its message is already the one-line reason. */
class ImportStoppedError extends Error {
  override readonly name = 'ImportStoppedError';
}

function withTimeout<T>(p: Promise<T>, ms: number, file: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new ImportStoppedError(importTimeoutReason(file, ms))), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Shortens to one line of at most MAX_REASON characters. */
function oneLine(text: string): string {
  const flat = text.replace(/\s*\n\s*/g, ' ').trim();
  return flat.length > MAX_REASON ? `${flat.slice(0, MAX_REASON - 1)}…` : flat;
}

/** `file` relative to `dir` when inside it (`_common.ts`), else as given. */
function shortName(file: string, dir: string): string {
  const rel = path.relative(dir, file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}

/** The path and line of a stack frame line (`    at f (/x/y.ts:4:7)` or `file:///x/y.ts:4:7`). */
function frameLocation(frame: string): { file: string; line: string } | undefined {
  const m = /\(?((?:file:\/\/)?[^()\s]+):(\d+):\d+\)?\s*$/.exec(frame);
  if (!m) return undefined;
  let f = m[1];
  if (f.startsWith('file://')) {
    try {
      f = fileURLToPath(f.replace(/\?.*$/, ''));
    } catch {
      return undefined;
    }
  }
  return { file: f, line: m[2] };
}

/**
 * A one-line reason for an import failure, e.g. `SyntaxError: Expected "}" but found ";" (line 3, column 32)`
 * or `Error: boom (line 4)`. esbuild's TransformError (what tsx throws for a syntax error) carries the
 * location inside its message; for runtime throws the line comes from the innermost stack frame in the
 * DAG's folder, naming the file when it is a helper rather than the DAG file: `(_common.ts line 4)`.
 */
export function importFailureReason(err: unknown, file: string): string {
  if (err instanceof ImportStoppedError) return err.message;
  if (!(err instanceof Error)) return oneLine(`thrown ${String(err)}`);
  const dir = path.dirname(file);
  const transform = /^(?<f>[^\n]*?):(?<line>\d+):(?<col>\d+): ERROR: (?<msg>[^\n]*)/m.exec(err.message);
  if (err.name === 'TransformError' && transform?.groups) {
    const { f, line, col, msg } = transform.groups;
    const where = path.resolve(f) === file ? '' : ` in ${shortName(path.resolve(f), dir)}`;
    return oneLine(`SyntaxError${where}: ${msg} (line ${line}, column ${col})`);
  }
  let message = `${err.name}: ${err.message.split('\n')[0]}`.split(dir + path.sep).join('');
  if (err.name !== 'DagDefinitionError') {
    const frames = (err.stack ?? '')
      .split('\n')
      .filter((l) => /^\s+at /.test(l))
      .map(frameLocation)
      .filter((x): x is { file: string; line: string } => x !== undefined);
    // The innermost frame in the DAG's folder is where it went wrong: the file itself or a helper.
    const at = frames.find((x) => path.dirname(x.file) === dir);
    if (at) message += at.file === file ? ` (line ${at.line})` : ` (${shortName(at.file, dir)} line ${at.line})`;
  }
  return oneLine(message);
}

/** The DAG files of `dir`, sorted by name so duplicate ids resolve the same way every time. */
async function listDagFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const e of entries) {
    if (!isDagFileName(e.name) || !(e.isFile() || e.isSymbolicLink())) continue;
    const file = path.join(dir, e.name);
    try {
      if ((await stat(file)).isFile()) files.push(file);
    } catch {
      // Removed between readdir and stat (an editor's rename): the next change event reloads.
    }
  }
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Imports every DAG file in `dir` (see the module comment). Import errors are logged at error level
 * and returned in `errors`; they never reject. Rejects only when `dir` cannot be read.
 */
export async function loadDagBag(dir: string, log?: Logger, opts: LoadDagBagOptions = {}): Promise<DagBag> {
  const absDir = path.resolve(dir);
  const timeoutMs = opts.importTimeoutMs ?? DEFAULT_IMPORT_TIMEOUT_MS;
  const files = await listDagFiles(absDir);
  registerResolveHook();
  const version = folderVersion(absDir);
  if (files.some((f) => imported.get(f)?.version.split('-')[0] !== version)) forgetRequired(absDir);
  const stopped = opts.probe === false ? new Map<string, string>() : await probeImports(files.filter((f) => willEvaluate(f, version)), timeoutMs);
  // Import in parallel (independent files); results are then taken in name order.
  const results = await Promise.allSettled(
    files.map((file) => {
      const reason = stopped.get(file);
      return reason === undefined ? withTimeout(importVersion(file, version), timeoutMs, file) : Promise.reject(new ImportStoppedError(reason));
    }),
  );

  const dags = new Map<string, Dag>();
  const errors: DagImportError[] = [];
  const fail = (file: string, reason: string): void => {
    errors.push({ file, reason });
    log?.error('DAG file failed to load', { file, reason });
  };
  files.forEach((file, i) => {
    const result = results[i];
    if (result.status === 'rejected') return fail(file, importFailureReason(result.reason, file));
    const exported = (result.value as { default?: unknown }).default;
    if (!isDag(exported)) {
      const what = exported === undefined ? 'no default export' : `default export is ${describeValue(exported)}`;
      return fail(file, `${what}; expected \`export default defineDag({...})\``);
    }
    const poolProblem = opts.pools === undefined ? undefined : poolProblemOf(exported, opts.pools);
    if (poolProblem !== undefined) return fail(file, poolProblem);
    const other = dags.get(exported.id);
    if (other) {
      return fail(file, `duplicate DAG id '${exported.id}': already defined in ${other.fileloc ?? '?'}`);
    }
    // The DAG object was created by this module evaluation, so recording its file on it is safe.
    if (exported.fileloc === undefined) (exported as { fileloc?: string }).fileloc = file;
    dags.set(exported.id, exported);
  });
  log?.info('DAG folder loaded', { dir: absDir, dags: dags.size, errors: errors.length });
  return { dags, errors };
}

/** A task's pool problem as a load error's reason (one line), or undefined when every pool fits. */
function poolProblemOf(dag: Dag, pools: Pools): string | undefined {
  try {
    checkDagPools(dag, pools);
    return undefined;
  } catch (err) {
    return oneLine(`${(err as Error).name}: ${(err as Error).message}`);
  }
}

/**
 * {@link loadDagBag} of the configured folder (DRIVETRAIN_DAGS_DIR): a folder that does not exist or
 * is not a folder is bad configuration, a ConfigError naming the variable and the path (exit 2).
 */
export async function loadConfiguredDagBag(settings: Settings, log?: Logger): Promise<DagBag> {
  try {
    return await loadDagBag(settings.dagsDir, log, { pools: settings.scheduler.pools });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new ConfigError(`DRIVETRAIN_DAGS_DIR: '${settings.dagsDir}' is not a folder (${code})`, 'DRIVETRAIN_DAGS_DIR');
    }
    throw err;
  }
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'function') return `a function${v.name ? ` '${v.name}'` : ''}`;
  if (typeof v === 'object') return `an object (${v.constructor?.name ?? 'Object'})`;
  return `a ${typeof v}`;
}

/**
 * Watches `dir` and calls `onChange` with a freshly loaded bag after its `.ts` files change (added,
 * edited, removed), debounced. Reloads never overlap; a change during a reload triggers one more.
 * Call this after the initial {@link loadDagBag}; changes made in between are seen by the next poll
 * only if the files' times differ from those at watch start.
 */
export function watchDagBag(
  dir: string,
  onChange: (bag: DagBag) => void,
  log?: Logger,
  opts: WatchDagBagOptions = {},
): { close(): void } {
  const absDir = path.resolve(dir);
  const debounceMs = opts.debounceMs ?? 300;
  const pollMs = opts.pollMs ?? 2000;
  let last = fingerprint(absDir);
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let again = false;

  const reload = async (): Promise<void> => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      const now = fingerprint(absDir);
      if (now === last) return;
      last = now;
      log?.info('DAG folder changed; reloading', { dir: absDir });
      const bag = await loadDagBag(absDir, log, opts);
      if (!closed) onChange(bag);
    } catch (err) {
      log?.error('DAG folder reload failed', { dir: absDir, error: (err as Error).message });
    } finally {
      running = false;
      if (again && !closed) {
        again = false;
        schedule();
      }
    }
  };
  const schedule = (): void => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), debounceMs);
  };

  let watcher: FSWatcher | undefined;
  if (opts.fsEvents ?? true) try {
    watcher = watch(absDir, { persistent: false }, () => schedule());
    watcher.on('error', (err) => log?.warn('DAG folder watch failed; polling only', { dir: absDir, error: err.message }));
  } catch (err) {
    log?.warn('cannot watch DAG folder; polling only', { dir: absDir, error: (err as Error).message });
  }
  const poller = pollMs > 0 ? setInterval(() => { if (fingerprint(absDir) !== last) schedule(); }, pollMs) : undefined;
  poller?.unref();

  return {
    close() {
      closed = true;
      clearTimeout(timer);
      if (poller) clearInterval(poller);
      watcher?.close();
    },
  };
}
