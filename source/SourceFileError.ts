/** A SQLite file the sample source cannot serve: a table missing, or one it cannot page. */
export class SourceFileError extends Error {
  override readonly name = 'SourceFileError';
  constructor(
    /** The file given. */
    readonly file: string,
    /** The table at fault. */
    readonly table: string,
    /** What is wrong with it. */
    readonly problem: string,
  ) {
    super(`'${file}': table '${table}' ${problem}`);
  }
}
