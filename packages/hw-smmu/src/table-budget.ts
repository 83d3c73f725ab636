/**
 * How many IO page-table pages (4 KiB frames of the instance's table
 * memory) maps into a paging domain need, decided before they are made:
 * a caller that maps in `evolve` (iommufd's follower) must refuse in
 * `decide` a map the table memory cannot hold, as Linux's `iommu_map()`
 * fails with -ENOMEM when io-pgtable-arm's `__arm_lpae_alloc_pages()`
 * cannot allocate a table.
 *
 * Two answers: `mapTableBound`, a cheap upper bound from the map's length
 * (no walk, for the hot path: it only has to be ≥ the truth), and
 * `mapTablePages`, the exact count of a sequence of maps (the walk of
 * `mapRange`, with no end to table memory), for when the bound exceeds
 * `framesAvailable`.
 *
 * Source: Arm ARM D8.2 (VMSAv8-64, 4 KiB granule, 48-bit input: lookup
 * levels 0–3; a level-k table, k ≥ 1, covers 512^(4−k) pages of 4 KiB);
 * Linux drivers/iommu/io-pgtable-arm.c `__arm_lpae_map()`.
 */
import { Errno } from "@iommu-sim/uapi";
import { mapPages, type PfnRun, TableWriter } from "./pgtable";
import { IOMMU_READ, IOMMU_WRITE, leafAttrs } from "./pte";
import type { SmmuInstance, SmmuState } from "./state";

/** One map of a sequence: `pfnRuns` (4 KiB frames) at `iova` (bytes). */
export interface TableMap {
  readonly iova: bigint;
  readonly pfnRuns: readonly PfnRun[];
  /** Linux `prot` (IOMMU_READ | IOMMU_WRITE | IOMMU_PRIV): a map with neither READ nor WRITE is refused. */
  readonly prot: number;
}

/** 4 KiB table frames left in `inst`'s table memory: its free list and the bump allocator's tail. */
export function framesAvailable(inst: SmmuInstance): number {
  return inst.freeFrames.length + Math.max(0, Math.floor((inst.tableEnd - inst.nextFree) / 4096));
}

/**
 * An upper bound of the table pages one map of `pages` 4 KiB pages
 * allocates in a domain's table, from its length alone (no walk, no
 * IOVA): as if no table existed and no block were used — below the
 * level-0 table (the domain's own), a span of `pages` pages meets at most
 * ⌈(pages − 1) / 512^k⌉ + 1 of the tables covering 512^k pages each
 * (levels 3, 2, 1: k = 1, 2, 3). A 4 KiB map: 3. 0 pages: 0. Bounds of
 * several maps add up to a bound of their sequence.
 */
export function mapTableBound(pages: number): number {
  if (pages <= 1) return pages === 1 ? 3 : 0;
  let n = 0;
  for (let span = 512; span <= 512 ** 3; span *= 512) n += Math.ceil((pages - 1) / span) + 1;
  return n;
}

/**
 * The table pages mapping `maps` in order into paging domain `domain` of
 * instance `instance` allocates — a table an earlier map creates is
 * counted once — whatever table memory holds (compare with
 * `framesAvailable`). A map the domain refuses (EINVAL, EEXIST) counts 0;
 * maps without runs count 0; an unknown instance/domain or a nested
 * domain: 0.
 */
export function mapTablePages(
  state: SmmuState,
  instance: number,
  domain: number,
  maps: readonly TableMap[],
): number {
  const inst = state.instances.get(instance);
  const d = inst?.domains.get(domain);
  if (inst === undefined || d === undefined || d.kind === "nested") return 0;
  // One writer for the whole sequence: later maps see the tables earlier ones made.
  const w = new TableWriter(inst.mem, inst.nextFree, Number.POSITIVE_INFINITY);
  const stage = d.kind === "s1" ? 1 : 2;
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i]!;
    if (m.pfnRuns.length === 0) continue;
    const refused =
      (m.prot & (IOMMU_READ | IOMMU_WRITE)) === 0 ||
      mapPages(w, d.ttb, m.iova, m.pfnRuns, leafAttrs(stage, m.prot), 0) instanceof Errno;
    // A refused map may have allocated some of its tables: count the others alone.
    if (refused) return mapTablePages(state, instance, domain, [...maps.slice(0, i), ...maps.slice(i + 1)]);
  }
  return w.allocated;
}
