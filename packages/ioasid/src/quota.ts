/**
 * The IOASID quota: a misc-cgroup-style resource (Linux kernel/cgroup/misc.c,
 * as the RFC proposes: "a cgroup controller is introduced to manage IOASID
 * quota"). Groups form a tree; each has a max (misc.max) and a usage
 * (misc.current) that counts its own and its descendants' charges.
 */
import type { IoasidEvent } from "@iommu-sim/uapi";
import { type Errno, errno } from "@iommu-sim/uapi";
import type { IoasidState } from "./state";

type Ev<T extends IoasidEvent["type"]> = Extract<IoasidEvent, { type: T }>;

/**
 * Can `count` PASIDs be charged to `cgroup`? misc_cg_try_charge(): every
 * group from `cgroup` up to the root must stay within its max.
 * @returns undefined if it can, else EBUSY (misc cgroup's errno) naming the
 *   group that is full. Callers map it to their own errno (the RFC's
 *   ioasid_alloc() failure → EINVAL, iommu_sva_alloc_pasid() → ENOMEM).
 */
export function tryCharge(state: IoasidState, cgroup: number, count: number): Errno | undefined {
  for (
    let g = state.cgroups[cgroup];
    g !== undefined;
    g = g.parent === undefined ? undefined : state.cgroups[g.parent]
  ) {
    if (g.max !== undefined && g.usage + count > g.max)
      return errno("EBUSY", `ioasid quota: cgroup ${g.cgroup} usage ${g.usage} + ${count} > max ${g.max}`);
  }
  return undefined;
}

/** The charge event for `count` PASIDs of mm's set. */
export function charged(cgroup: number, mm: number, count: number): Ev<"ioasid.quota.charged"> {
  return { type: "ioasid.quota.charged", data: { cgroup, mm, count } };
}

/** The uncharge event for `count` PASIDs of mm's set. */
export function uncharged(cgroup: number, mm: number, count: number): Ev<"ioasid.quota.uncharged"> {
  return { type: "ioasid.quota.uncharged", data: { cgroup, mm, count } };
}

/** Apply a charge (sign +1) or uncharge (−1) of `count` to `cgroup` and every ancestor. */
export function applyCharge(
  cgroups: IoasidState["cgroups"],
  cgroup: number,
  count: number,
): IoasidState["cgroups"] {
  const out = { ...cgroups };
  for (let g = out[cgroup]; g !== undefined; g = g.parent === undefined ? undefined : out[g.parent]) {
    const usage = g.usage + count;
    // Literals rather than spreads: this runs for every allocation.
    out[g.cgroup] =
      g.parent === undefined
        ? { cgroup: g.cgroup, usage }
        : g.max === undefined
          ? { cgroup: g.cgroup, parent: g.parent, usage }
          : { cgroup: g.cgroup, parent: g.parent, max: g.max, usage };
  }
  return out;
}
