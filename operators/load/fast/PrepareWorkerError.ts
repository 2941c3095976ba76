/** A load prepare worker failed a block: it threw, crashed, exited or was closed with the block in flight. */
export class PrepareWorkerError extends Error {
  override readonly name = 'PrepareWorkerError';
  constructor(
    message: string,
    /** The worker's thread id. */
    readonly threadId: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
