/**
 * VMA list operations: carving a range out (munmap, MAP_FIXED), inserting,
 * and choosing an address top-down (Linux mm/mmap.c, the default
 * arch_get_unmapped_area_topdown() layout).
 */
import { MMAP_BASE, MMAP_MIN_ADDR, type Vma } from "./state";

/**
 * `vmas` with [start, end) removed; VMAs straddling an edge are split and
 * the right part's `pgoff` advanced (what __split_vma() does).
 */
export function carve(vmas: readonly Vma[], start: number, end: number): Vma[] {
  const out: Vma[] = [];
  for (const v of vmas) {
    if (v.end <= start || v.start >= end) {
      out.push(v);
      continue;
    }
    if (v.start < start) out.push({ ...v, end: start });
    if (v.end > end) out.push({ ...v, start: end, pgoff: v.pgoff + (end - v.start) });
  }
  return out;
}

/** `vmas` (disjoint, sorted) with `vma` inserted in order; the range must be free. */
export function insertVma(vmas: readonly Vma[], vma: Vma): Vma[] {
  const out = vmas.slice();
  let i = out.length;
  while (i > 0 && out[i - 1]!.start > vma.start) i--;
  out.splice(i, 0, vma);
  return out;
}

/** The highest free `length`-byte range below MMAP_BASE and above MMAP_MIN_ADDR, or -1. */
export function placeTopDown(vmas: readonly Vma[], length: number): number {
  let hi = MMAP_BASE;
  for (let i = vmas.length - 1; i >= 0; i--) {
    const v = vmas[i]!;
    if (v.start >= hi) continue;
    if (v.end <= hi && hi - v.end >= length) return hi - length;
    hi = v.start;
  }
  return hi - MMAP_MIN_ADDR >= length ? hi - length : -1;
}

/** Whether any VMA intersects [start, end). */
export function overlaps(vmas: readonly Vma[], start: number, end: number): boolean {
  return vmas.some((v) => v.start < end && v.end > start);
}
