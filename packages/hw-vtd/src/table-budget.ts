/**
 * How many second-stage table pages (4 KiB frames of the unit's table
 * memory) maps into a paging domain need, decided before they are made:
 * a caller that maps in `evolve` (iommufd's follower) must refuse in
 * `decide` a map the unit's table memory cannot hold, as Linux's
 * `iommu_map()` fails with -ENOMEM when `pfn_to_dma_pte()` (generic_pt:
 * `__map_range()`) cannot allocate a table page.
 *
 * Two answers: `mapTableBound`, a cheap upper bound from the map's length
 * and the most levels a domain has (no walk, for the hot path: it only
 * has to be ≥ the truth), and `mapTablePages`, the exact count of a
 * sequence of maps (a walk of the domain's tables, for when the bound
 * exceeds `framesAvailable`).
 *
 * Source: VT-d spec rev 4.1 §3.7 (second-stage levels: a table of level
 * k ≥ 2 holds 512 entries each covering 512^(k−1) 4 KiB pages), §9.8.
 */
import type { Errno } from "@iommu-sim/uapi";
import { type PfnRun, planTables } from "./sl-map";
import type { VtdUnit } from "./state";

/** One map of a sequence: `pfnRuns` (4 KiB frames) at `iova` (bytes). */
export interface TableMap {
  readonly iova: bigint;
  readonly pfnRuns: readonly PfnRun[];
}

/** The most second-stage levels a VT-d domain has: 5 (SAGAW bit 3, 57-bit AGAW). */
export const MAX_SL_LEVELS = 5;

/**
 * An upper bound of the table pages one map of `pages` 4 KiB pages
 * allocates in any second-stage table, from its length alone (no walk, no
 * IOVA): as if no table existed, no superpage were used and the table had
 * the most levels (`MAX_SL_LEVELS`) — below the root, a span of `pages`
 * pages meets at most ⌈(pages − 1) / 512^k⌉ + 1 of the level-k tables
 * (each covering 512^k pages), k = 1 … 4. A 4 KiB map: 4. 0 pages: 0.
 * Bounds of several maps add up to a bound of their sequence.
 */
export function mapTableBound(pages: number): number {
  if (pages <= 1) return pages === 1 ? MAX_SL_LEVELS - 1 : 0;
  let n = 0;
  for (let k = 1, span = 512; k < MAX_SL_LEVELS; k++, span *= 512) n += Math.ceil((pages - 1) / span) + 1;
  return n;
}

/**
 * The table pages mapping `maps` in order into paging domain `did` of
 * `unit` allocates — a table an earlier map creates is counted once —
 * whatever the table memory holds (compare with `framesAvailable`). A map
 * the domain refuses (`checkMap`'s EINVAL, EFAULT, EADDRINUSE) counts 0;
 * maps without runs count 0; a domain that is not a paging domain: 0.
 */
export function mapTablePages(unit: VtdUnit, did: number, maps: readonly TableMap[]): number {
  const d = unit.domains.get(did);
  if (d === undefined || d.kind !== "paging") return 0;
  const created = new Set<number>();
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i]!;
    if (m.pfnRuns.length === 0) continue;
    const e: Errno | undefined = planTables(unit, d, m.iova, m.pfnRuns, created);
    // A refused map may have recorded some of its tables: count the others alone.
    if (e !== undefined) return mapTablePages(unit, did, [...maps.slice(0, i), ...maps.slice(i + 1)]);
  }
  return created.size;
}
