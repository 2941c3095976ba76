/**
 * A poll loop's wait: over after its interval, or at once when new work arrives (`wake()`). A wake
 * while nothing sleeps is dropped, because the loop looks for work before it sleeps again. Shared by
 * the executor's turn loop and the alert deliverer.
 */
export class InterruptibleSleep {
  private wakeSleeper: (() => void) | undefined;

  /** Resolves after `ms`, or earlier on {@link wake}. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeSleeper = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeSleeper = done;
    });
  }

  /** Ends the current sleep, if any. */
  wake(): void {
    this.wakeSleeper?.();
  }
}
