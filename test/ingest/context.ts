/** A hand-built TaskContext for operator tests: fixed ds, a logger that records lines, no scheduler. */
import type { Logger, TaskContext } from '../../scheduler/interfaces.js';
import type { Settings } from '../../scheduler/settings.js';

/** A logged line. */
export interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly meta?: Record<string, unknown>;
}

/** A logger keeping its lines, for assertions. */
export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (message: string, meta?: Record<string, unknown>) => void lines.push({ level, message, meta });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A context for `ds` with the given settings. */
export function taskContext(settings: Settings, ds = '2024-01-15', opts: { signal?: AbortSignal; taskId?: string } = {}): TaskContext & { log: ReturnType<typeof recordingLogger> } {
  const start = new Date(`${ds}T00:00:00Z`);
  const end = new Date(start.getTime() + 86_400_000);
  return {
    dagId: 'ingest',
    taskId: opts.taskId ?? 'task',
    runId: `manual__${start.toISOString().replace('.000Z', '+00:00')}`,
    tryNumber: 1,
    logicalDate: start,
    ds,
    dataIntervalStart: start,
    dataIntervalEnd: end,
    month: `${ds.slice(0, 7)}-01`,
    intervals: [{ start, end }],
    signal: opts.signal ?? new AbortController().signal,
    log: recordingLogger(),
    settings,
    params: {},
  };
}
