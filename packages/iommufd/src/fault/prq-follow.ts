/**
 * The IOMMU drivers' page request handlers, run in the hardware slices'
 * evolve right after the hardware wrote a page request (drivers/follow.ts
 * hooks them), for devices an iommufd context bound — the driver then owns
 * them:
 * - VT-d (drivers/iommu/intel/prq.c prq_event_thread()): the descriptor is
 *   read and PQH moved past it; the request goes to iommu_report_device_fault()
 *   (the iommufd slice queued it already, fault/evolve.ts);
 * - SMMUv3: the PRI queue record is consumed (PRIQ_CONS moves).
 * A last page whose device has no IOPF-capable HWPT at that PASID gets the
 * error response of io-pgfault.c iommu_report_device_fault() (err_abort:
 * IOMMU_PAGE_RESP_FAILURE) at once, so the device stops waiting. Devices
 * no context bound are left to whoever drives the hardware directly.
 */
import type { SmmuOutEvent, SmmuRoot, SmmuState } from "@iommu-sim/hw-smmu";
import { decodePageRequest as decodePriRecord, smmuSubsystem } from "@iommu-sim/hw-smmu";
import { type VtdEmitted, type VtdRoot, type VtdState, vtd } from "@iommu-sim/hw-vtd";
import { IOMMU_PGFAULT_FLAGS_PASID_VALID } from "@iommu-sim/uapi";
import type { IommufdRoot } from "../root";
import type { VtdPageRequestEvent } from "./evolve";
import { IOMMU_PAGE_RESP_FAILURE, smmuResponseCmd, vtdResponseBytes } from "./hw-response";
import { routeHwRequest } from "./route";

/** After `vtd.prq.queued` (already applied to `state`): the intel driver's PRQ handling. */
export function vtdPageRequestHandled(
  state: VtdState,
  d: VtdPageRequestEvent,
  root: IommufdRoot & VtdRoot,
): VtdState {
  if (d.overflow) return state;
  const pasid = d.pasid ?? 0;
  const route = routeHwRequest(root.iommufd, "vtd", d.unit, d.rid, pasid);
  const unit = state.units.get(d.unit);
  if (!route.bound || unit === undefined) return state;
  const ev = (e: VtdEmitted, s: VtdState) => vtd.evolve(s, e, root);
  let next = ev({ type: "vtd.prq.consumed", data: { unit: d.unit, head: unit.prqTail } }, state);
  if (route.target === undefined && d.lpig) {
    const flags = d.pasid === undefined ? 0 : IOMMU_PGFAULT_FLAGS_PASID_VALID;
    const tail = {
      source: { driver: "vtd", unit: d.unit, rid: d.rid },
      pasid,
      grpid: d.index,
      flags,
    } as const;
    const descriptors = vtdResponseBytes(next, tail, IOMMU_PAGE_RESP_FAILURE);
    if (descriptors !== undefined)
      next = ev({ type: "vtd.qi.executed", data: { unit: d.unit, descriptors } }, next);
  }
  return next;
}

/** After `smmu.pri.queued` (already applied to `state`): the SMMUv3 driver's PRI queue handling. */
export function smmuPageRequestHandled(
  state: SmmuState,
  d: { instance: number; record: readonly bigint[] },
  root: IommufdRoot & SmmuRoot,
): SmmuState {
  const p = decodePriRecord(d.record);
  const pasid = p.ssid ?? 0;
  const route = routeHwRequest(root.iommufd, "smmu", d.instance, p.sid, pasid);
  if (!route.bound) return state;
  const ev = (e: SmmuOutEvent, s: SmmuState) => smmuSubsystem.evolve(s, e, root);
  let next = ev({ type: "smmu.priq.consumed", data: { instance: d.instance, count: 1 } }, state);
  if (route.target === undefined && p.last) {
    const flags = p.ssid === undefined ? 0 : IOMMU_PGFAULT_FLAGS_PASID_VALID;
    const tail = {
      source: { driver: "smmu", unit: d.instance, rid: p.sid },
      pasid,
      grpid: p.grpid,
      flags,
    } as const;
    const cmd = smmuResponseCmd(tail, IOMMU_PAGE_RESP_FAILURE);
    next = ev({ type: "smmu.cmd.consumed", data: { instance: d.instance, cmd } }, next);
  }
  return next;
}
