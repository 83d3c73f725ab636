/**
 * How the fault-queue panel names permissions and page group responses,
 * shared by its blocks (FaultQueuesPanel, SvaFaultQueue).
 */

const PERM = [
  [1, "R"],
  [2, "W"],
  [4, "X"],
  [8, "priv"],
] as const;

/** An `IOMMU_PGFAULT_PERM_*` mask (Linux uapi iommufd.h: READ 1, WRITE 2, EXEC 4, PRIV 8) as "RW", "W", "-". */
export const permText = (p: number): string =>
  PERM.filter(([b]) => (p & b) !== 0)
    .map(([, s]) => s)
    .join("") || "-";

/**
 * A VT-d page group response code by the spec's name (VT-d 4.1 §6.5.2.12
 * Page Group Response Descriptor: 0 Success, 1 Invalid Request, 0xF
 * Response Failure).
 */
export function vtdResponseText(code: number): string {
  return code === 0
    ? "Success"
    : code === 1
      ? "Invalid Request"
      : code === 0xf
        ? "Response Failure"
        : `code ${code}`;
}
