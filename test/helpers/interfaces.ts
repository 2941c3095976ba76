/**
 * Public types of the test kit (test/helpers/): what the recording logger keeps, what the task-context
 * builder accepts, what the temporary-directory hook exposes.
 */
import type { DataInterval, Logger, RunType, Schedule } from '../../scheduler/interfaces.js';

/** The four levels of the scheduler's Logger. */
export type LogLevel = keyof Logger;

/** One line a RecordingLogger kept. */
export interface LogLine {
  /** The method that was called. */
  readonly level: LogLevel;
  /** The message, as given. */
  readonly message: string;
  /** The structured fields, as given (undefined when none were passed). */
  readonly meta?: Record<string, unknown>;
}

/** What a line is matched against: a substring of its message, a pattern, or a predicate. */
export type LineMatch = string | RegExp | ((line: LogLine) => boolean);

/** Options of testTaskContext; every one has the default an operator test usually wants. */
export interface TestTaskContextOptions<L extends Logger> {
  /** The DAG id the task runs in; default 'test_dag'. */
  readonly dagId?: string;
  /** The task id; default 'task'. */
  readonly taskId?: string;
  /** The logical date, `YYYY-MM-DD` (UTC); default '2024-01-15'. Exclusive with `intervals`. */
  readonly ds?: string;
  /** The schedule whose interval at `ds` is covered; default '@daily'. Ignored with `intervals`. */
  readonly schedule?: Schedule;
  /** The intervals covered, oldest first (several only for a batched backfill call). Exclusive with `ds`. */
  readonly intervals?: readonly DataInterval[];
  /** The kind of run, which names the run id; default 'manual'. */
  readonly runType?: RunType;
  /** The attempt number; default 1. */
  readonly tryNumber?: number;
  /** Aborted to cancel the task; default a signal that never aborts. */
  readonly signal?: AbortSignal;
  /** Where the task logs; default a new RecordingLogger. */
  readonly log?: L;
  /** Run configuration, as `dags trigger --conf` gives it; default empty. */
  readonly params?: Readonly<Record<string, unknown>>;
  /** The upstream tasks' results, by task id, as `ctx.upstream` hands them over; default none (no upstream). */
  readonly upstream?: Readonly<Record<string, unknown>>;
}

/** A temporary directory registered by useTmpDir; read it inside tests and hooks only. */
export interface TmpDir {
  /** The directory's absolute path (a new one per test, or per suite). */
  readonly dir: string;
  /** `dir` joined with `parts`. */
  path(...parts: string[]): string;
}

/** When useTmpDir creates and removes its directory. */
export type TmpDirScope = 'test' | 'suite';

/** Options of useTmpDir. */
export interface TmpDirOptions {
  /** 'test': a new directory per test (beforeEach/afterEach); 'suite': one for the suite (before/after). Default 'test'. */
  readonly scope?: TmpDirScope;
  /** Runs just before the directory is removed (close files, stop children writing into it); it is removed even when this fails. */
  readonly beforeRemove?: () => void | Promise<void>;
}
