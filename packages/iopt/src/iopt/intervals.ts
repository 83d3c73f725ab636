/**
 * Page-index interval arithmetic for pinning decisions, and operations on
 * the pinned-run list of an iopt_pages. Linux tracks the same with interval
 * trees (pages->domains_itree, access_itree) and decides per span which
 * storage holds the PFNs (pages.c pfn_reader, interval_tree_double_span);
 * here the holders of one iopt_pages are few, so sorted lists suffice.
 *
 * Intervals are half-open [start, end) of 4 KiB page indexes.
 */
import type { PfnRun } from "../mm/fault";
import type { PinnedRun } from "./state";

/** A half-open page-index interval. */
export interface Interval {
  readonly start: number;
  readonly end: number;
}

/** Sorted, merged union of `xs`. */
export function union(xs: readonly Interval[]): Interval[] {
  const s = xs.filter((x) => x.end > x.start).sort((a, b) => a.start - b.start);
  const out: Interval[] = [];
  for (const x of s) {
    const last = out[out.length - 1];
    if (last !== undefined && x.start <= last.end)
      out[out.length - 1] = { start: last.start, end: Math.max(last.end, x.end) };
    else out.push(x);
  }
  return out;
}

/** `a \ b` for sorted, merged lists. */
export function subtract(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  let j = 0;
  for (const x of a) {
    let start = x.start;
    while (j < b.length && b[j]!.end <= start) j++;
    let k = j;
    while (k < b.length && b[k]!.start < x.end) {
      const y = b[k]!;
      if (y.start > start) out.push({ start, end: y.start });
      start = Math.max(start, y.end);
      k++;
    }
    if (start < x.end) out.push({ start, end: x.end });
  }
  return out;
}

/** The indexes covered by pinned runs, merged. */
export function pinnedIntervals(runs: readonly PinnedRun[]): Interval[] {
  return union(runs.map((r) => ({ start: r.index, end: r.index + r.count })));
}

/**
 * `runs` with pages from `index` pinned to the frames of `pfns` (in order).
 * The indexes must not already be pinned. Adjacent runs that continue both
 * the index and the frame sequence are merged.
 */
export function addPinned(runs: readonly PinnedRun[], index: number, pfns: readonly PfnRun[]): PinnedRun[] {
  if (runs.length === 0 && pfns.length === 1) return [{ index, pfn: pfns[0]!.pfn, count: pfns[0]!.count }];
  const added: PinnedRun[] = [];
  let i = index;
  for (const r of pfns) {
    added.push({ index: i, pfn: r.pfn, count: r.count });
    i += r.count;
  }
  const all = [...runs, ...added].sort((a, b) => a.index - b.index);
  const out: PinnedRun[] = [];
  for (const r of all) {
    const last = out[out.length - 1];
    if (last !== undefined && last.index + last.count === r.index && last.pfn + last.count === r.pfn)
      out[out.length - 1] = { index: last.index, pfn: last.pfn, count: last.count + r.count };
    else out.push(r);
  }
  return out;
}

/** `runs` without indexes [index, index+count), splitting runs at the edges. */
export function removePinned(runs: readonly PinnedRun[], index: number, count: number): PinnedRun[] {
  const end = index + count;
  const out: PinnedRun[] = [];
  for (const r of runs) {
    const rEnd = r.index + r.count;
    if (rEnd <= index || r.index >= end) {
      out.push(r);
      continue;
    }
    if (r.index < index) out.push({ index: r.index, pfn: r.pfn, count: index - r.index });
    if (rEnd > end) out.push({ index: end, pfn: r.pfn + (end - r.index), count: rEnd - end });
  }
  return out;
}

/**
 * The frames of pages [index, index+count) as PFN runs, or undefined when
 * some page in the range is not pinned.
 */
export function framesOf(runs: readonly PinnedRun[], index: number, count: number): PfnRun[] | undefined {
  const out: PfnRun[] = [];
  let at = index;
  const end = index + count;
  for (const r of runs) {
    const rEnd = r.index + r.count;
    if (rEnd <= at) continue;
    if (r.index > at) return undefined;
    const n = Math.min(rEnd, end) - at;
    const pfn = r.pfn + (at - r.index);
    const last = out[out.length - 1];
    if (last !== undefined && last.pfn + last.count === pfn) last.count += n;
    else out.push({ pfn, count: n });
    at += n;
    if (at >= end) return out;
  }
  return at >= end ? out : undefined;
}
