/** DRIVETRAIN_POOLS (scheduler.pools) is not a list of `name=slots` with positive whole slots, each name once. */
export class PoolSpecError extends Error {
  override readonly name = 'PoolSpecError';
  constructor(
    /** The entry at fault, as written. */
    readonly entry: string,
    /** What is wrong with it. */
    readonly reason: string,
  ) {
    super(`pool entry '${entry}': ${reason}`);
  }
}
