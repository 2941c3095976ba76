import type { GeneratedRegion } from './interfaces.js';

/** Thrown when a file lacks the markers of its generated region. */
export class MissingMarkersError extends Error {
  override readonly name = 'MissingMarkersError';
  constructor(
    readonly file: string,
    readonly region: GeneratedRegion,
  ) {
    super(`${file} has no '${region.start}' ... '${region.end}' markers (each on its own line) to generate the settings into`);
  }
}
