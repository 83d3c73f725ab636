/**
 * Which fault queue a page request goes to (Linux io-pgfault.c
 * iommu_report_device_fault(): the attach handle of the device at the
 * request's PASID — IOMMU_NO_PASID without one —, its domain's
 * iopf_handler, i.e. iommufd_fault_iopf_handler() and `hwpt->fault`).
 */
import { objectDevice } from "../devices";
import type { DriverKind } from "../drivers/driver";
import { driverOf } from "../drivers/index";
import type { IommufdContext, IommufdObject, IommufdState } from "../state";

/** A device object: its context and id. */
export interface BoundDevice {
  readonly ctx: IommufdContext;
  readonly idev: IommufdObject;
}

/** The queue a request is delivered to, and the device object it names. */
export interface FaultTarget {
  /** The fault object's kobj (key of `IommufdState.faults`). */
  readonly fault: number;
  readonly ctx: number;
  readonly devId: number;
}

/**
 * The HWPT id device object `idev` of `ctx` has at `pasid` (0 = the RID):
 * a platform device's `attachments`; for a selftest mock device, its RID's
 * HWPT (`refs[0]`) or a PASID's on its selftest object (selftest/pasid.ts).
 */
export function hwptAt(ctx: IommufdContext, idev: IommufdObject, pasid: number): number | undefined {
  if (idev.attachments !== undefined) return idev.attachments.find((a) => a.pasid === pasid)?.hwpt;
  if (idev.device !== undefined) return undefined;
  if (pasid === 0) return idev.refs[0];
  for (const k in ctx.objects) {
    const o = ctx.objects[k]!;
    if (o.type === "selftest" && o.refs[0] === idev.id)
      return o.attachments?.find((a) => a.pasid === pasid)?.hwpt;
  }
  return undefined;
}

/**
 * Whether the driver of device object `idev` sets `iommu_ops.user_pasid_table`
 * (the guest owns the PASID/CD table behind a nested RID attachment): the
 * selftest mock (selftest.c mock_ops) and ARM SMMUv3 (arm-smmu-v3.c
 * arm_smmu_ops); Intel VT-d does not (its PASIDs are attached one by one).
 */
function userPasidTable(state: IommufdState, idev: IommufdObject): boolean {
  const kind = idev.device === undefined ? "mock" : objectDevice(state, idev)?.driver;
  return kind !== undefined && driverOf(kind).userPasidTable;
}

/**
 * The PASID whose attachment a page request of `idev` at `pasid` goes
 * through (io-pgfault.c find_fault_handler): `pasid` when attached there;
 * else, when the driver sets `user_pasid_table` (the mock, SMMUv3: the
 * guest owns the PASID/CD table), the RID (0) if its HWPT is nested — the
 * request is the guest's, for its own stage 1; else none.
 */
export function handlePasid(
  state: IommufdState,
  ctx: IommufdContext,
  idev: IommufdObject,
  pasid: number,
): number | undefined {
  if (hwptAt(ctx, idev, pasid) !== undefined) return pasid;
  if (pasid === 0 || !userPasidTable(state, idev)) return undefined;
  const rid = hwptAt(ctx, idev, 0);
  return rid !== undefined && ctx.objects[rid]?.type === "hwpt_nested" ? 0 : undefined;
}

/** The fault object a HWPT delivers to (IOMMU_HWPT_FAULT_ID_VALID at alloc), if any. */
export function faultOf(ctx: IommufdContext, hwpt: IommufdObject): IommufdObject | undefined {
  for (const r of hwpt.refs) {
    const o = ctx.objects[r];
    if (o?.type === "fault") return o;
  }
  return undefined;
}

/**
 * The queue device object `idev` of `ctx` delivers requests at `pasid` to,
 * if the HWPT of the attachment they go through (`handlePasid`) has one.
 */
export function targetOf(state: IommufdState, ctx: IommufdContext, idev: IommufdObject, pasid: number) {
  const via = handlePasid(state, ctx, idev, pasid);
  const hwptId = via === undefined ? undefined : hwptAt(ctx, idev, via);
  const hwpt = hwptId === undefined ? undefined : ctx.objects[hwptId];
  const fault = hwpt === undefined ? undefined : faultOf(ctx, hwpt);
  if (fault?.kobj === undefined || state.faults?.[fault.kobj] === undefined) return undefined;
  return { fault: fault.kobj, ctx: ctx.id, devId: idev.id };
}

/** The platform device behind `driver` unit `unit` with requester id `rid`, by name. */
function deviceName(state: IommufdState, driver: DriverKind, unit: number, rid: number): string | undefined {
  const p = state.platform;
  if (p === undefined) return undefined;
  const units = p.iommus.filter((u) => u.kind === driver);
  const iommu = units[unit];
  return p.devices.find((d) => d.iommu === iommu?.name && d.rid === rid)?.name;
}

/** The context and device object that bound the platform device at (`driver`, `unit`, `rid`), if any. */
export function boundDevice(
  state: IommufdState,
  driver: DriverKind,
  unit: number,
  rid: number,
): BoundDevice | undefined {
  const name = deviceName(state, driver, unit, rid);
  if (name === undefined) return undefined;
  for (const k in state.contexts) {
    const ctx = state.contexts[k]!;
    for (const id in ctx.objects) {
      const idev = ctx.objects[id]!;
      if (idev.type === "device" && idev.device === name) return { ctx, idev };
    }
  }
  return undefined;
}

/**
 * Route a hardware page request: `bound` when an iommufd context bound the
 * device (its driver then owns the page request queue), `target` when the
 * device's attachment at `pasid` is an IOPF-capable HWPT.
 */
export function routeHwRequest(
  state: IommufdState,
  driver: DriverKind,
  unit: number,
  rid: number,
  pasid: number,
): { bound: boolean; target?: FaultTarget } {
  const dev = boundDevice(state, driver, unit, rid);
  if (dev === undefined) return { bound: false };
  const target = targetOf(state, dev.ctx, dev.idev, pasid);
  return target === undefined ? { bound: true } : { bound: true, target };
}
