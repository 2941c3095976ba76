/** An erasure named ids that no lake partition, raw row, hub or earlier erasure knows; nothing was changed. */
export class UnknownIdError extends Error {
  override readonly name = 'UnknownIdError';
  constructor(
    readonly entity: string,
    /** The ids as given. */
    readonly ids: readonly string[],
  ) {
    super(`unknown ${entity.replace(/s$/, '')} id${ids.length > 1 ? 's' : ''} ${ids.map((id) => `'${id}'`).join(', ')}: in no lake partition, raw row or hub; nothing was erased`);
  }
}
