/**
 * IOASID sets: one per process address space (the RFC's token is the mm).
 * The events that create a set, free its PASIDs and free the set itself —
 * shared by /dev/ioasid release, SVA unbind and process exit.
 */
import type { IoasidEvent } from "@iommu-sim/uapi";
import { uncharged } from "./quota";
import type { IoasidSet } from "./state";

/**
 * Events freeing every /dev/ioasid PASID of `set` (ioasid_free_all_in_set()),
 * ascending, then one uncharge for all of them. Empty when it has none.
 */
export function freeSetIds(set: IoasidSet): IoasidEvent[] {
  const out: IoasidEvent[] = [];
  for (const pasid of set.ids.ids())
    out.push({ type: "pasid.freed", data: { pasid, use: "ioasid", mm: set.mm } });
  if (out.length > 0) out.push(uncharged(set.cgroup, set.mm, out.length));
  return out;
}

/** Events freeing mm's SVA PASID (iommu_sva_free_pasid(): the last bond of the mm went). */
export function freeSvaPasid(set: IoasidSet): IoasidEvent[] {
  if (set.svaPasid === undefined) return [];
  return [
    { type: "pasid.freed", data: { pasid: set.svaPasid, use: "sva", mm: set.mm } },
    uncharged(set.cgroup, set.mm, 1),
  ];
}
