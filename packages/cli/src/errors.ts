/**
 * Errors the command line reports as one line and exit code 2: bad flags,
 * unreadable or invalid files (`FILE: field: reason`, `FILE:LINE: field:
 * reason` for logs).
 */

/** A user error: printed as `iommu-sim: <message>`, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The exit code of a usage error. */
export const EXIT_USAGE = 2;
