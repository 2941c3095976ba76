/**
 * Adapter to the test kit (test/helpers/) while test/ingest moves to it: the same names as before,
 * now the kit's RecordingLogger and the scheduler-built context. Delete once nothing imports it.
 */
import type { Settings } from '../../scheduler/settings.js';
import { RecordingLogger } from '../helpers/recordingLogger.js';
import { testTaskContext } from '../helpers/taskContext.js';

export type { LogLine } from '../helpers/recordingLogger.js';

/** A logger keeping its lines, for assertions. */
export function recordingLogger(): RecordingLogger {
  return new RecordingLogger();
}

/** A context of the ingest DAG for `ds` with the given settings. */
export function taskContext(settings: Settings, ds = '2024-01-15', opts: { signal?: AbortSignal; taskId?: string } = {}) {
  return testTaskContext(settings, { dagId: 'ingest', ds, ...opts });
}
