/** A model or data test that cannot be loaded, rendered or run as written; names it and quotes the bad part. */
export class ModelError extends Error {
  override readonly name = 'ModelError';
  constructor(
    message: string,
    /** The model or test at fault. */
    readonly model: string,
    /** The offending text (a header line, a macro call, a ref), when there is one. */
    readonly detail?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
