/**
 * A text value of a source file whose bytes are not UTF-8. The sqlite3 driver would hand it out
 * decoded, with U+FFFD in place of those bytes; the sample source stands in for a real source with
 * dirty data, so it serves the bytes themselves (docs/design/dirty-sources.md).
 */
export class RawText {
  constructor(
    /** The value's bytes as stored. */
    readonly bytes: Buffer,
  ) {}
}
