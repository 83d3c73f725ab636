/**
 * Allocation-light, call-free u64 (bigint) helpers for the map/unmap hot
 * path. On Node 20, `Number(x)` and `x >> n` on a bigint are runtime calls
 * (~300 and ~250 instructions, callgrind), where `+`, `&`, `%`, a
 * comparison or `BigInt(n)` cost ~30 inline; every bigint result is also a
 * heap object. The helpers avoid the calls, and hand out shared values for
 * the small counts events keep.
 */

import { u64ToNumber } from "@iommu-sim/uapi";

const PAGE = 4096n;
const TWO53 = 2n ** 53n;

/** `Number(x)` for any bigint, without the runtime call (@iommu-sim/uapi `u64ToNumber`). */
export const toNumber = u64ToNumber;

/** 2^0 … 2^31 as bigints. */
const POW2: readonly bigint[] = Array.from({ length: 32 }, (_, i) => 1n << BigInt(i));

/** Whether byte `x` is a multiple of `a`, a power of two ≤ 2^31 (IOVA, length and page offset alignment checks). */
export function isAligned(x: bigint, a: number): boolean {
  // 31 − clz32(a) = log2(a) for a power of two: the mask comes from a table, not a BigInt() conversion.
  return (x & (POW2[31 - Math.clz32(a)]! - 1n)) === 0n;
}

/** `Number(x >> 12n)`: the page index of byte `x` (whole 4 KiB pages in `x` bytes), the same value for every bigint. */
export function pagesIn(x: bigint): number {
  if (x < 0n) return Number(x >> 12n);
  if (x < PAGE) return 0;
  // Below 2^53 the double is exact and so is its division by 4096.
  return x < TWO53 ? Math.floor(toNumber(x) / 4096) : toNumber(x >> 12n);
}

/** BigInt(0) … BigInt(256), shared. */
const SMALL: readonly bigint[] = Array.from({ length: 257 }, (_, i) => BigInt(i));

/**
 * `BigInt(n)` for a count n ≥ 0 (pages, bytes): a shared value for n ≤ 256,
 * so the events of a 4 KiB map do not each keep their own bigint 1.
 */
export function bigCount(n: number): bigint {
  return SMALL[n] ?? BigInt(n);
}
