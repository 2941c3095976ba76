/**
 * Runs this process's writers against one database one at a time. SQLite has one writer anyway, but
 * node-sqlite3 runs each statement on libuv's small thread pool: writers waiting in the busy handler
 * occupy those threads, the lock holder's next statement then finds none free, and everything stalls
 * for the whole busy timeout. Queuing in-process writers keeps the busy timeout for what it is for:
 * another process (the daemon and a CLI backfill) holding the lock.
 */
export class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `fn` once every writer queued before it has finished (whether it succeeded or not). */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const turn = this.tail.then(fn);
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  /** Waits for every writer queued so far. */
  async idle(): Promise<void> {
    await this.tail;
  }
}
