/** The public types of the metadata layer. */

/** A value bound into a statement; an array becomes a list (`IN (?)`), an array of arrays rows (`VALUES ?`). */
export type SqlValue = string | number | null | readonly SqlValue[];

/** The statements available inside MetadataDb.tx and MetadataDb.read. */
export interface Sql {
  /** Rows of a SELECT (or of a statement with RETURNING). */
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** Runs a statement; returns how many rows it inserted, updated or deleted. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}
