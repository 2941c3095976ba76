/**
 * The one statement run a batch writer has in flight (BatchWriter.ts, CarryWriter.ts): the next batch is
 * prepared while SQLite runs this one, and waits for it before its own run starts. A failure surfaces at
 * that wait or at the flush, never as an unhandled rejection in between.
 */
export class InFlight {
  private current: Promise<void> | undefined;

  /** Waits for the run in flight, if any; throws its failure. */
  async done(): Promise<void> {
    const p = this.current;
    this.current = undefined;
    if (p) await p;
  }

  /** Makes `run` the one in flight. */
  track(run: Promise<void>): void {
    run.catch(() => {});
    this.current = run;
  }

  /** Waits for the run in flight, whatever its outcome (before statements are finalized). */
  async settled(): Promise<void> {
    await this.current?.catch(() => {});
  }
}
