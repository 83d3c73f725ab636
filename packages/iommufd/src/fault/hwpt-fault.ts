/**
 * IOMMU_HWPT_FAULT_ID_VALID at IOMMU_HWPT_ALLOC (Linux hw_pagetable.c
 * iommufd_hwpt_alloc(): after the HWPT is allocated, `fault_id` must name
 * a fault object — iommufd_get_fault(), ENOENT otherwise —; the HWPT then
 * holds a users reference on it and its domain's iopf_handler delivers to
 * it). The flag itself never reaches the driver (`flags &
 * ~IOMMU_HWPT_FAULT_ID_VALID`), and iommufd_hwpt_paging_alloc() refuses it
 * with NEST_PARENT (EOPNOTSUPP: a nesting parent's faults are its nested
 * HWPTs').
 */
import {
  type Errno,
  errno,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_FAULT_ID_VALID,
  isErrno,
} from "@iommu-sim/uapi";
import { getObject } from "../objects";
import type { IommufdContext } from "../state";

type Decided = { type: string; data: unknown }[];

/** The flags the HWPT allocators see: IOMMU_HWPT_FAULT_ID_VALID removed. */
export function driverFlags(flags: number): number {
  return flags & ~IOMMU_HWPT_FAULT_ID_VALID;
}

/** EOPNOTSUPP for a paging HWPT asked to be both a nesting parent and fault-capable. */
export function checkPagingFaultFlags(flags: number): Errno | undefined {
  if (flags & IOMMU_HWPT_FAULT_ID_VALID && flags & IOMMU_HWPT_ALLOC_NEST_PARENT)
    return errno("EOPNOTSUPP", "a NEST_PARENT HWPT cannot take a fault queue");
  return undefined;
}

/**
 * With IOMMU_HWPT_FAULT_ID_VALID in `flags`: the HWPT created by `events`
 * (its `iommufd.object.created`, the last one of type hwpt_*) also refers
 * to fault object `faultId` — ENOENT when there is no such fault object.
 * Without the flag, `events` as they are.
 */
export function withFaultQueue(
  c: IommufdContext,
  events: Decided | Errno,
  flags: number,
  faultId: number | undefined,
): Decided | Errno {
  if (isErrno(events) || (flags & IOMMU_HWPT_FAULT_ID_VALID) === 0) return events;
  const fault = getObject(c, faultId ?? 0, "fault");
  if (isErrno(fault)) return fault;
  let at = -1;
  events.forEach((e, i) => {
    const d = e.data as { type?: string };
    if (e.type === "iommufd.object.created" && d.type?.startsWith("hwpt_") === true) at = i;
  });
  if (at < 0) return events;
  const e = events[at]!;
  const d = e.data as { refs: number[] };
  const out = [...events];
  out[at] = { ...e, data: { ...d, refs: [...d.refs, fault.id] } };
  return out;
}
