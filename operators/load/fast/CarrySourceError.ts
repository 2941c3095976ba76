/**
 * The previous partition a load copies unchanged rows from could not be used: its lake partition could
 * not be read to the end (a part missing, cut, or not matching its checksum), or its raw rows were not
 * where the load read them. The load starts again without copying: a broken previous day costs speed,
 * never the load.
 */
export class CarrySourceError extends Error {
  override readonly name = 'CarrySourceError';

  constructor(
    readonly entity: string,
    /** The previous partition's date. */
    readonly ds: string,
    /** What went wrong, in a few words. */
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`the previous partition ${entity}/ds=${ds} could not be used to copy unchanged rows: ${reason}`, options);
  }
}
