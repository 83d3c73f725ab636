/**
 * The IOAS IOVA alignment: iopt->iova_alignment, the largest of PAGE_SIZE
 * when large pages are disabled (1 otherwise), every attached domain's
 * smallest IO page size, and every access's alignment. Linux io_pagetable.c
 * iopt_calculate_iova_alignment(), iopt_check_iova_alignment().
 */
import { type Errno, errno } from "@iommu-sim/uapi";
import { PAGE_SIZE } from "../mm/state";
import type { DomainDescriptor, Ioas } from "./state";

/** The alignment an IOAS with these properties must have (bytes). */
export function computeAlignment(
  disableLargePages: boolean,
  domains: readonly DomainDescriptor[],
  accessAlignments: readonly number[],
): number {
  let a = disableLargePages ? PAGE_SIZE : 1;
  for (const d of domains) a = Math.max(a, d.ioPageSize);
  for (const x of accessAlignments) a = Math.max(a, x);
  return a;
}

/**
 * iopt_check_iova_alignment(): every area's IOVA, length and page offset
 * must be multiples of `alignment`, else EADDRINUSE.
 */
export function checkAreasAligned(ioas: Ioas, alignment: number): Errno | undefined {
  const mask = BigInt(alignment - 1);
  for (const a of ioas.areas) {
    const length = a.last - a.iova + 1n;
    if ((a.iova & mask) !== 0n || (length & mask) !== 0n || ((a.startByte % BigInt(PAGE_SIZE)) & mask) !== 0n)
      return errno("EADDRINUSE", `area at 0x${a.iova.toString(16)} is not ${alignment}-byte aligned`);
  }
  return undefined;
}

/** Whether x is a power of two (a valid page size). */
export function isPowerOfTwo(x: number): boolean {
  return Number.isInteger(x) && x > 0 && (x & (x - 1)) === 0;
}
