/**
 * Carried rows (CarryMatcher.ts) gathered into runs for one copy statement (CarryWriter.ts): a row whose
 * rowid, previous lake line and lake line each follow the last row's extends its run. Lake order puts
 * nearly a whole partition in a handful of runs.
 */
import type { CarriedRows } from '../interfaces.js';

export class CarriedRuns {
  private readonly ranges: number[] = [];
  private rows = 0;
  private lastRowid = NaN;
  private lastPrevious = NaN;
  private lastLine = NaN;

  get size(): number {
    return this.rows;
  }

  /** Adds the row `rowid` of the previous partition, from its line `previousLine`, as lake line `lakeLine`. */
  add(rowid: number, previousLine: number, lakeLine: number): void {
    if (rowid === this.lastRowid + 1 && previousLine === this.lastPrevious + 1 && lakeLine === this.lastLine + 1) {
      this.ranges[this.ranges.length - 3] = rowid;
    } else {
      this.ranges.push(rowid, rowid, previousLine, lakeLine);
    }
    this.lastRowid = rowid;
    this.lastPrevious = previousLine;
    this.lastLine = lakeLine;
    this.rows++;
  }

  /** The runs so far as a batch. */
  batch(): CarriedRows {
    return { rows: this.rows, ranges: this.ranges };
  }
}
