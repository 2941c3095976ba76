/** A lake partition is missing, incomplete (no `_SUCCESS`) or does not match its manifest. */
export class LakePartitionError extends Error {
  override readonly name = 'LakePartitionError';
  constructor(
    message: string,
    /** The partition directory. */
    readonly dir: string,
  ) {
    super(message);
  }
}
