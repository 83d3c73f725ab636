/**
 * Attaching a bound device — its RID, or one PASID of it — to an IOAS or a
 * paging HWPT, replacing and detaching it (Linux device.c
 * iommufd_device_attach() / iommufd_device_replace() /
 * iommufd_device_detach(), what VFIO_DEVICE_ATTACH_IOMMUFD_PT and
 * VFIO_DEVICE_DETACH_IOMMUFD_PT call, with or without
 * VFIO_DEVICE_ATTACH_PASID), and unbinding it (iommufd_device_unbind()).
 *
 * Attach to an IOAS = its auto domain: an auto-domain HWPT of the same
 * driver and unit on that IOAS that the device can use is reused, else one
 * is allocated (iommufd_device_auto_get_domain(), with flags 0: an auto
 * domain is never PASID-compatible, so iommufd_hwpt_pasid_compat() refuses
 * a PASID on it, and a PASID beside a RID on it). The device's
 * reserved regions become reserved ranges of the IOAS owned by the device
 * (iopt_table_enforce_dev_resv_regions()) while it has an attachment
 * there; the driver programs the hardware (VT-d PASID entry, SMMU STE/CD).
 * Detach undoes all three and destroys an auto domain left without users.
 *
 * A device's attachments are `IommufdObject.attachments` (PASID → HWPT id,
 * PASID 0 = the RID, IOMMU_NO_PASID); `refs` lists the HWPTs they use.
 * A nested HWPT (hwpt-nested.ts) is attached like a paging HWPT; the IOAS
 * it stands on (reserved regions) is its parent's.
 */
import { type SubsystemDecideContext, sealEpoch } from "@iommu-sim/eventlog";
import { decideReserve, decideUnreserve } from "@iommu-sim/iopt";
import { type Errno, errno, IOMMU_HWPT_ALLOC_PASID, isErrno } from "@iommu-sim/uapi";
import { domainRef, driverKey, hwptDriverKey, objectDevice } from "./devices";
import type { DeviceInfo, HwRoot } from "./drivers/driver";
import { driverOf } from "./drivers/index";
import { checkIopfCapable, faultDetachEffects } from "./fault/attach";
import { decideHwptPagingAlloc, hwptPagingDestroyEffects } from "./hwpt";
import { hwptIoasId } from "./hwpt-nested";
import { allocObjectId, getContext, getObject, usersOf } from "./objects";
import type { IommufdRoot, RootEvolve as SystemEvolve } from "./root";
import type { IommufdContext, IommufdObject } from "./state";

type Decided = { type: string; data: unknown }[];

/** IOMMU_NO_PASID: the RID's attachment (requests without PASID). */
const NO_PASID = 0;

/** Events decided one after the other, each seeing the state the earlier ones leave. */
class Sequence {
  readonly events: Decided = [];
  constructor(
    public root: IommufdRoot,
    private readonly evolve: SystemEvolve,
  ) {
    // The scratch evolution must not write the live state's bulk tables in place.
    sealEpoch();
  }
  add(events: Decided): void {
    for (const e of events) {
      this.events.push(e);
      this.root = this.evolve(this.root, e);
    }
  }
}

/** The HWPT id device object `idev` has at `pasid`, if any. */
function attachedAt(idev: IommufdObject, pasid: number): number | undefined {
  return idev.attachments?.find((a) => a.pasid === pasid)?.hwpt;
}

/** The event recording `idev`'s attachment at `pasid` (hwpt 0: none). */
function attachmentSet(ctx: number, idev: IommufdObject, pasid: number, hwpt: number) {
  return { type: "iommufd.device.attachment.set", data: { ctx, id: idev.id, pasid, hwpt } };
}

/** Whether HWPT `hwpt` may serve PASIDs (allocated with IOMMU_HWPT_ALLOC_PASID: Linux hwpt->pasid_compat). */
function pasidCompat(hwpt: IommufdObject): boolean {
  return ((hwpt.flags ?? 0) & IOMMU_HWPT_ALLOC_PASID) !== 0;
}

/** A bound hardware device object of context `c` and its platform device, or ENOENT/EINVAL. */
function boundDevice(
  root: IommufdRoot,
  c: IommufdContext,
  devId: number,
): [IommufdObject, DeviceInfo] | Errno {
  const idev = getObject(c, devId, "device");
  if (isErrno(idev)) return idev;
  const info = objectDevice(root.iommufd, idev);
  if (info === undefined) return errno("EINVAL", `device ${devId} is a selftest mock device`);
  return [idev, info];
}

/** log2 of the PASIDs the device may use (IOMMU_GET_HW_INFO's out_max_pasid_log2); 0 without PASID. */
function maxPasidLog2(root: IommufdRoot, info: DeviceInfo): number {
  return driverOf(info.driver).maxPasidLog2(root as HwRoot, info);
}

/** What attach and replace resolve first. */
interface Request {
  readonly context: IommufdContext;
  readonly idev: IommufdObject;
  readonly info: DeviceInfo;
  readonly pt: IommufdObject;
  /** The device's driver key (`vtd:0`…): the HWPTs it may use. */
  readonly key: string;
  /** 0 = the RID. */
  readonly pasid: number;
}

/**
 * Look up the device, `ptId` and `pasid`: EBADF context; ENOENT no device
 * object or no object `ptId`; EINVAL a selftest device, a `ptId` that is
 * neither an IOAS nor a paging or nested HWPT, a HWPT of another driver or unit, a
 * PASID beyond the device's and IOMMU's width (or any PASID on a device
 * without the capability).
 */
function request(
  root: IommufdRoot,
  c: { ctx: number; devId: number; ptId: number; pasid?: number },
): Request | Errno {
  const context = getContext(root.iommufd, c.ctx);
  if (isErrno(context)) return context;
  const found = boundDevice(root, context, c.devId);
  if (isErrno(found)) return found;
  const [idev, info] = found;
  const pt = context.objects[c.ptId];
  if (pt === undefined) return errno("ENOENT", `no object ${c.ptId}`);
  if (pt.type !== "ioas" && pt.type !== "hwpt_paging" && pt.type !== "hwpt_nested")
    return errno("EINVAL", `object ${c.ptId} is a ${pt.type}`);
  const key = driverKey(info);
  if (pt.type !== "ioas" && hwptDriverKey(root.iommufd, pt) !== key)
    return errno("EINVAL", "the HWPT's domain belongs to another IOMMU");
  const pasid = c.pasid ?? NO_PASID;
  if (pasid !== NO_PASID && pasid >= 2 ** maxPasidLog2(root, info))
    return errno("EINVAL", `PASID ${pasid} beyond the device's PASID width`);
  return { context, idev, info, pt, key, pasid };
}

/**
 * Linux iommufd_hwpt_pasid_compat(): a PASID needs a PASID-compatible HWPT
 * and, when the RID is attached, a PASID-compatible RID HWPT; the RID
 * needs a PASID-compatible HWPT while PASIDs are attached. EINVAL otherwise.
 */
function checkPasidCompat(r: Request, hwpt: IommufdObject): Errno | undefined {
  if (r.pasid === NO_PASID) {
    const others = (r.idev.attachments ?? []).some((a) => a.pasid !== NO_PASID);
    if (others && !pasidCompat(hwpt))
      return errno("EINVAL", "PASIDs are attached: the HWPT must allow PASID");
    return undefined;
  }
  if (!pasidCompat(hwpt)) return errno("EINVAL", "the HWPT was not allocated with IOMMU_HWPT_ALLOC_PASID");
  const ridHwpt = attachedAt(r.idev, NO_PASID);
  if (ridHwpt !== undefined && !pasidCompat(r.context.objects[ridHwpt]!))
    return errno("EINVAL", "the RID's HWPT does not allow PASID");
  return undefined;
}

/** The IOAS object behind `pt` (itself, or a HWPT's IOAS — a nested HWPT's parent's). */
function ioasOf(c: IommufdContext, pt: IommufdObject): IommufdObject {
  return c.objects[pt.type === "ioas" ? pt.id : hwptIoasId(c, pt)]!;
}

/** Whether `idev` has an attachment (other than at `except`) on IOAS object `ioasId`. */
function attachedOnIoas(c: IommufdContext, idev: IommufdObject, ioasId: number, except: number): boolean {
  return (idev.attachments ?? []).some((a) => {
    const hwpt = c.objects[a.hwpt];
    return a.pasid !== except && hwpt !== undefined && hwptIoasId(c, hwpt) === ioasId;
  });
}

/** Reserve the device's regions in IOAS `ioas` (owner: the device's kobj), unless it is already there. */
function reserveRegions(
  seq: Sequence,
  r: Request,
  ioas: IommufdObject,
  ctx: SubsystemDecideContext<IommufdRoot>,
): Errno | undefined {
  if (attachedOnIoas(r.context, r.idev, ioas.id, r.pasid)) return undefined;
  for (const region of driverOf(r.info.driver).reservedRegions(r.info)) {
    const ev = decideReserve(
      seq.root,
      { ioas: ioas.kobj!, start: region.start, last: region.last, owner: r.idev.kobj! },
      ctx,
    );
    if (isErrno(ev)) return ev;
    seq.add(ev);
  }
  return undefined;
}

/**
 * The HWPT `pt` names for this device at `r.pasid`: itself (if compatible),
 * the first compatible auto domain of the device's driver and unit on the
 * IOAS, or a new auto domain (added to `seq`).
 */
function targetHwpt(
  seq: Sequence,
  r: Request,
  ctx: SubsystemDecideContext<IommufdRoot>,
): IommufdObject | Errno {
  if (r.pt.type !== "ioas") return checkPasidCompat(r, r.pt) ?? r.pt;
  for (const k in r.context.objects) {
    const o = r.context.objects[k]!;
    if (o.type !== "hwpt_paging" || o.autoDomain !== true || o.refs[0] !== r.pt.id) continue;
    if (hwptDriverKey(seq.root.iommufd, o) === r.key && checkPasidCompat(r, o) === undefined) return o;
  }
  const hwptId = allocObjectId(r.context);
  if (isErrno(hwptId)) return hwptId;
  // Auto domains are allocated with flags 0 (device.c iommufd_device_auto_get_domain()), so they are
  // not PASID-compatible: a device using PASIDs attaches HWPTs allocated with IOMMU_HWPT_ALLOC_PASID.
  const ev = decideHwptPagingAlloc(
    seq.root,
    r.context.id,
    {
      hwptId,
      ioasId: r.pt.id,
      kobj: seq.root.iommufd.nextKobj,
      flags: 0,
      autoDomain: true,
      hw: { driver: driverOf(r.info.driver), unit: r.info.unit },
    },
    { step: ctx.step, root: seq.root },
  );
  if (isErrno(ev)) return ev;
  seq.add(ev);
  const hwpt = seq.root.iommufd.contexts[r.context.id]!.objects[hwptId]!;
  return checkPasidCompat(r, hwpt) ?? hwpt;
}

/** Program the hardware for `hwpt` at `r.pasid` and record the attachment. */
function attachTo(
  seq: Sequence,
  r: Request,
  hwpt: IommufdObject,
  ctx: SubsystemDecideContext<IommufdRoot>,
): Errno | undefined {
  const iopf = checkIopfCapable(r.context, hwpt, r.info);
  if (iopf) return iopf;
  const ref = domainRef(seq.root.iommufd, hwpt.kobj!);
  const hwEvents = driverOf(r.info.driver).attachDevice(seq.root as HwRoot, ref, r.info, r.pasid, ctx);
  if (isErrno(hwEvents)) return hwEvents;
  seq.add(hwEvents);
  seq.add([attachmentSet(r.context.id, r.idev, r.pasid, hwpt.id)]);
  return undefined;
}

/** The auto domain `hwpt` is destroyed when nothing uses it any more (after the events so far). */
function dropIfUnused(seq: Sequence, ctxId: number, hwpt: IommufdObject): Errno | undefined {
  const c = seq.root.iommufd.contexts[ctxId]!;
  if (hwpt.autoDomain !== true || c.objects[hwpt.id] === undefined || usersOf(c, hwpt.id).length > 0)
    return undefined;
  const effects = hwptPagingDestroyEffects(seq.root, ctxId, hwpt);
  if (isErrno(effects)) return effects;
  seq.add([
    ...effects,
    { type: "iommufd.object.destroyed", data: { ctx: ctxId, id: hwpt.id, type: hwpt.type } },
  ]);
  return undefined;
}

/**
 * `iommufd.device.attach {ctx, devId, ptId, pasid?}` (iommufd_device_attach).
 * Errors: `request`'s (EBADF, ENOENT, EINVAL); EBUSY already attached
 * there at that PASID, to this target or another (moving it is
 * `iommufd.device.replace`); EINVAL a HWPT without PASID compatibility
 * (`checkPasidCompat`); EADDRINUSE a reserved region of the device is
 * mapped or allowed in the IOAS (or an area lies outside a new domain's
 * aperture); the driver's errors (EINVAL: a PASID on a stage-2 SMMU
 * domain…) and ENOMEM at every fault point (the reservation, a new
 * domain's, iopt's fill, the hardware's table allocations).
 * Events: [ioas.reserved…], [new HWPT], the driver's, `device.attachment.set`.
 */
export function decideDeviceAttach(
  root: IommufdRoot,
  c: { ctx: number; devId: number; ptId: number; pasid?: number },
  ctx: SubsystemDecideContext<IommufdRoot>,
  evolve: SystemEvolve,
): Decided | Errno {
  const r = request(root, c);
  if (isErrno(r)) return r;
  // iommufd_hw_pagetable_attach(): the device's id goes into the attach
  // handle's device_array with xa_insert() before any HWPT comparison, so a
  // device already attached at this PASID is EBUSY whatever the target
  // (selftest iommufd_device_pasid: "attach does not allow overwrite, use
  // REPLACE instead"). EINVAL is for another device of the group elsewhere.
  if (attachedAt(r.idev, r.pasid) !== undefined)
    return errno("EBUSY", "the device is already attached there");
  const seq = new Sequence(root, evolve);
  const e = reserveRegions(seq, r, ioasOf(r.context, r.pt), ctx);
  if (e) return e;
  const hwpt = targetHwpt(seq, r, ctx);
  if (isErrno(hwpt)) return hwpt;
  return attachTo(seq, r, hwpt, ctx) ?? seq.events;
}

/**
 * `iommufd.device.replace {ctx, devId, ptId, pasid?}` (iommufd_device_replace:
 * what VFIO_DEVICE_ATTACH_IOMMUFD_PT does on an attached device): move the
 * attachment to another IOAS (auto domain) or paging HWPT in one step — the
 * hardware entry is rewritten in place (VT-d `intel_pasid_replace_*`, SMMU
 * STE/CD rewrite), the reserved regions follow the IOAS, an auto domain
 * left without users is destroyed. Replacing with the current HWPT changes
 * nothing. Errors: `request`'s; EINVAL when nothing is attached at that
 * PASID; as attach for the new HWPT.
 */
export function decideDeviceReplace(
  root: IommufdRoot,
  c: { ctx: number; devId: number; ptId: number; pasid?: number },
  ctx: SubsystemDecideContext<IommufdRoot>,
  evolve: SystemEvolve,
): Decided | Errno {
  const r = request(root, c);
  if (isErrno(r)) return r;
  const curId = attachedAt(r.idev, r.pasid);
  if (curId === undefined) return errno("EINVAL", "the device is not attached at this PASID");
  const cur = r.context.objects[curId]!;
  const newIoas = ioasOf(r.context, r.pt);
  const oldIoas = ioasOf(r.context, cur);
  const seq = new Sequence(root, evolve);
  const e = reserveRegions(seq, r, newIoas, ctx);
  if (e) return e;
  const hwpt = targetHwpt(seq, r, ctx);
  if (isErrno(hwpt)) return hwpt;
  if (hwpt.id === cur.id) return [];
  // The old HWPT's pending groups of this attachment are answered once it is replaced.
  const answered = faultDetachEffects(seq.root, r.context.id, r.idev.id, r.pasid);
  const e2 = attachTo(seq, r, hwpt, ctx) ?? unreserveIfLeft(seq, r.context.id, r.idev.id, oldIoas);
  if (e2) return e2;
  seq.add(answered);
  return dropIfUnused(seq, r.context.id, cur) ?? seq.events;
}

/** Drop the device's reserved ranges from IOAS `ioas` once it has no attachment there (after `seq`). */
function unreserveIfLeft(
  seq: Sequence,
  ctxId: number,
  devId: number,
  ioas: IommufdObject,
): Errno | undefined {
  const c = seq.root.iommufd.contexts[ctxId]!;
  const idev = c.objects[devId]!;
  if (attachedOnIoas(c, idev, ioas.id, -1)) return undefined;
  const gone = decideUnreserve(seq.root, { ioas: ioas.kobj!, owner: idev.kobj! });
  if (isErrno(gone)) return gone;
  seq.add(gone);
  return undefined;
}

/**
 * Detach `idev` at `pasid` (after `seq`): the driver's blocking detach,
 * the attachment goes, the reserved ranges leave an IOAS the device no
 * longer uses, an auto domain left without users is destroyed (unfilled
 * and freed). Nothing attached there → no events. Cannot fail in Linux;
 * Errno only from a model inconsistency.
 */
function detachAt(seq: Sequence, ctxId: number, devId: number, pasid: number): Errno | undefined {
  const c = seq.root.iommufd.contexts[ctxId]!;
  const idev = c.objects[devId]!;
  const info = objectDevice(seq.root.iommufd, idev);
  const hwptId = attachedAt(idev, pasid);
  if (info === undefined || hwptId === undefined) return undefined;
  const hwpt = c.objects[hwptId]!;
  seq.add([
    ...driverOf(info.driver).detachDevice(seq.root as HwRoot, info, pasid),
    ...faultDetachEffects(seq.root, ctxId, devId, pasid),
    attachmentSet(ctxId, idev, pasid, 0),
  ]);
  return unreserveIfLeft(seq, ctxId, devId, ioasOf(c, hwpt)) ?? dropIfUnused(seq, ctxId, hwpt);
}

/**
 * The events of detaching every attachment of bound device `idev` (its
 * PASIDs, then the RID), as closing the context does before unbinding.
 */
export function deviceDetachEffects(
  root: IommufdRoot,
  ctxId: number,
  idev: IommufdObject,
  evolve: SystemEvolve,
): Decided | Errno {
  const seq = new Sequence(root, evolve);
  const pasids = (idev.attachments ?? []).map((a) => a.pasid).sort((a, b) => b - a);
  for (const pasid of pasids) {
    const e = detachAt(seq, ctxId, idev.id, pasid);
    if (e) return e;
  }
  return seq.events;
}

/**
 * `iommufd.device.detach {ctx, devId, pasid?}`: EBADF, ENOENT no device
 * object, EINVAL a selftest device; nothing attached at that PASID → no
 * events (vfio_iommufd_physical_detach_ioas() returns quietly).
 */
export function decideDeviceDetach(
  root: IommufdRoot,
  c: { ctx: number; devId: number; pasid?: number },
  evolve: SystemEvolve,
): Decided | Errno {
  const context = getContext(root.iommufd, c.ctx);
  if (isErrno(context)) return context;
  const found = boundDevice(root, context, c.devId);
  if (isErrno(found)) return found;
  const seq = new Sequence(root, evolve);
  return detachAt(seq, c.ctx, c.devId, c.pasid ?? NO_PASID) ?? seq.events;
}

/**
 * `iommufd.device.unbind {ctx, devId}` (the VFIO device file closes:
 * every attachment detached, then iommufd_device_unbind() drops the
 * driver's hold and the object goes). Errors as detach.
 */
export function decideDeviceUnbind(
  root: IommufdRoot,
  c: { ctx: number; devId: number },
  evolve: SystemEvolve,
): Decided | Errno {
  const context = getContext(root.iommufd, c.ctx);
  if (isErrno(context)) return context;
  const found = boundDevice(root, context, c.devId);
  if (isErrno(found)) return found;
  const detach = deviceDetachEffects(root, c.ctx, found[0], evolve);
  if (isErrno(detach)) return detach;
  return [...detach, { type: "iommufd.object.destroyed", data: { ctx: c.ctx, id: c.devId, type: "device" } }];
}
