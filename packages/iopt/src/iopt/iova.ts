/**
 * IOVA-space queries and automatic IOVA allocation, on bigint bytes with
 * inclusive ends so that ranges reaching 2^64 − 1 never overflow.
 * Linux drivers/iommu/iommufd/io_pagetable.c: iopt_alloc_iova(),
 * iopt_check_iova(); double_span.h for the hole iteration.
 */
import { PAGE_SIZE } from "../mm/state";
import { type Area, type Ioas, type IovaRange, U64_MAX } from "./state";

const PAGE = BigInt(PAGE_SIZE);

/** Whether [a.start, a.last] and [start, last] intersect. */
export function intersects(a: IovaRange, start: bigint, last: bigint): boolean {
  return a.start <= last && a.last >= start;
}

/** Index of the first area with `last >= iova` (binary search). */
export function firstAreaFrom(areas: readonly Area[], iova: bigint): number {
  let lo = 0;
  let hi = areas.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (areas[mid]!.last < iova) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The areas intersecting [start, last], in IOVA order (iopt_area_iter_first/next). */
export function areasIn(ioas: Ioas, start: bigint, last: bigint): Area[] {
  const out: Area[] = [];
  for (let i = firstAreaFrom(ioas.areas, start); i < ioas.areas.length; i++) {
    const a = ioas.areas[i]!;
    if (a.iova > last) break;
    out.push(a);
  }
  return out;
}

/** The area starting exactly at `iova`. */
export function areaAt(ioas: Ioas, iova: bigint): Area | undefined {
  const a = ioas.areas[firstAreaFrom(ioas.areas, iova)];
  return a !== undefined && a.iova === iova ? a : undefined;
}

/** Sorted, merged union of ranges (adjacent ranges merge, like the span iterator sees them). */
export function mergeRanges(xs: readonly IovaRange[]): IovaRange[] {
  const s = [...xs].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: IovaRange[] = [];
  for (const x of s) {
    const last = out[out.length - 1];
    if (last !== undefined && (last.last === U64_MAX || x.start <= last.last + 1n)) {
      if (x.last > last.last) out[out.length - 1] = { start: last.start, last: x.last };
    } else out.push({ start: x.start, last: x.last });
  }
  return out;
}

/** The holes of merged `used` within [lo, hi] (interval_tree_for_each_span, is_hole spans). */
export function holes(used: readonly IovaRange[], lo: bigint, hi: bigint): IovaRange[] {
  const out: IovaRange[] = [];
  let at = lo;
  for (const u of used) {
    if (u.last < at) continue;
    if (u.start > hi) break;
    if (u.start > at) out.push({ start: at, last: u.start - 1n });
    if (u.last >= hi) return out;
    at = u.last + 1n;
  }
  if (at <= hi) out.push({ start: at, last: hi });
  return out;
}

/** The used spans of merged `used` clipped to [lo, hi]. */
export function usedSpans(used: readonly IovaRange[], lo: bigint, hi: bigint): IovaRange[] {
  const out: IovaRange[] = [];
  for (const u of used) {
    if (u.last < lo || u.start > hi) continue;
    out.push({ start: u.start < lo ? lo : u.start, last: u.last > hi ? hi : u.last });
  }
  return out;
}

/** roundup_pow_of_two for 0 < x < 2^63. */
export function roundupPowOfTwo(x: bigint): bigint {
  let p = 1n;
  while (p < x) p <<= 1n;
  return p;
}

/** 1 << __ffs64(x) for x ≠ 0: the lowest set bit. */
export function lowestSetBit(x: bigint): bigint {
  return x & -x;
}

/** ALIGN(x, a) in unsigned 64-bit arithmetic (wraps as C does). */
function align64(x: bigint, a: bigint): bigint {
  return BigInt.asUintN(64, (x + a - 1n) & ~(a - 1n));
}

/** __alloc_iova_check_{used,hole}: the aligned start in `span` where `length` fits, or undefined. */
function fitIn(span: IovaRange, length: bigint, alignment: bigint, pageOffset: bigint): bigint | undefined {
  if (span.last - span.start < length - 1n) return undefined;
  const start = align64(span.start, alignment) | pageOffset;
  if (start > span.last || span.last - start < length - 1n) return undefined;
  return start;
}

/** The result of `allocIova`: the IOVA, or the errno name Linux returns. */
export type AllocResult = { iova: bigint } | { error: "EOVERFLOW" | "EINVAL" | "ENOSPC" };

/**
 * iopt_alloc_iova(): the lowest IOVA for `length` bytes, aligned to the
 * largest power of two that `length` (rounded up) and `uptr` allow, with
 * `uptr`'s offset in its page kept; inside an allowed range (all of
 * [PAGE_SIZE, 2^64 − 1 − PAGE_SIZE] when none are set), outside reserved
 * ranges and areas. Never returns IOVA 0.
 * Errors: EOVERFLOW for a zero or ≥ 2^63 length; EINVAL when that alignment
 * is below the IOAS's; ENOSPC when nothing fits.
 */
export function allocIova(ioas: Ioas, uptr: bigint, length: bigint): AllocResult {
  if (length === 0n || length >= U64_MAX / 2n) return { error: "EOVERFLOW" };
  const pageOffset = uptr % PAGE;
  const lenAlign = roundupPowOfTwo(length);
  const uptrAlign = uptr === 0n ? lenAlign : lowestSetBit(uptr);
  const alignment = lenAlign <= uptrAlign ? lenAlign : uptrAlign;
  if (alignment < BigInt(ioas.iovaAlignment)) return { error: "EINVAL" };
  const lo = PAGE;
  const hi = U64_MAX - PAGE;
  const allowed =
    ioas.allowed.length === 0 ? [{ start: lo, last: hi }] : usedSpans(mergeRanges(ioas.allowed), lo, hi);
  const used = mergeRanges([...ioas.reserved, ...ioas.areas.map((a) => ({ start: a.iova, last: a.last }))]);
  for (const span of allowed) {
    const start = fitIn(span, length, alignment, pageOffset);
    if (start === undefined) continue;
    for (const hole of holes(used, start, span.last)) {
      const iova = fitIn(hole, length, alignment, pageOffset);
      if (iova !== undefined) return { iova };
    }
  }
  return { error: "ENOSPC" };
}
