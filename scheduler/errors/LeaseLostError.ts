/**
 * Another process took over a running attempt's task instance (its lease expired while this process
 * could not renew it): the attempt is aborted with this, since its result would not be recorded.
 */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(
    readonly taskId: string,
    /** The lease owner now holding the instance, or null when it is no longer running. */
    readonly holder: string | null,
  ) {
    super(`task '${taskId}': lease lost${holder ? ` to '${holder}'` : ''}; attempt aborted, another attempt takes over`);
  }
}
