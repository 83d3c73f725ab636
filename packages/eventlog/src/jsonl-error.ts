/** The error of a log file that fails validation (see jsonl.ts). */

/** A log file that failed validation: `file:line: field: reason`. */
export class LogFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${field}: ${reason}`);
    this.name = "LogFormatError";
  }
}
