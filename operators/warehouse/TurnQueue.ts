/**
 * Runs work at most `width` at a time, each in its turn: a piece of work starts when every piece
 * queued before it has started and one of the running ones has finished (whether it succeeded or not).
 */
export class TurnQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** Settles once everything queued so far has settled. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    /** How many may run at once. */
    readonly width: number,
  ) {
    if (!Number.isInteger(width) || width < 1) throw new RangeError(`TurnQueue width '${width}' is not a positive integer`);
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    const work = this.inTurn(fn);
    const settled = work.catch(() => undefined);
    this.tail = this.tail.then(() => settled);
    return work;
  }

  /** Waits for everything queued so far. */
  async idle(): Promise<void> {
    await this.tail;
  }

  private async inTurn<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running < this.width) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      // The turn passes straight to the next in line, so nothing queued later can overtake it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
