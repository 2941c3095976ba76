/**
 * Files under DRIVETRAIN_HOME and the log directory hold customer data (the lake, the warehouse, task
 * logs that quote rows): they are created for their owner only. Two layers, because neither covers
 * everything alone:
 *
 * - the modes below, passed wherever Drivetrain itself creates a file or directory (lake partitions,
 *   attempt logs, scheduler.log), so a library user (a test, an embedding process) gets them too;
 * - {@link restrictProcessUmask}, called first thing by the `drivetrain` bin, for the files other code
 *   creates for us with its own modes: SQLite's database, WAL and shm files (node-sqlite3 creates them
 *   0644), gzip part files opened by write streams, and anything added later. A umask is inherited by
 *   child processes, so the task and source children the bin spawns are covered as well.
 */

/** Mode of a file Drivetrain creates: read and write for its owner only. */
export const PRIVATE_FILE_MODE = 0o600;

/** Mode of a directory Drivetrain creates: its owner only. */
export const PRIVATE_DIR_MODE = 0o700;

/** The umask that turns every default mode (0666 files, 0777 directories) into the two above. */
export const PRIVATE_UMASK = 0o077;

/**
 * Adds {@link PRIVATE_UMASK} to the process's umask (keeping any stricter bits the operator set) and
 * returns the previous one. Only the main thread may change the umask: call it before any file is opened.
 */
export function restrictProcessUmask(): number {
  const previous = process.umask(PRIVATE_UMASK);
  process.umask(previous | PRIVATE_UMASK);
  return previous;
}
