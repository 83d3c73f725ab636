/**
 * PASID attachments of selftest mock devices (Linux
 * drivers/iommu/iommufd/selftest.c iommufd_test_pasid_attach / _replace /
 * _detach / _check_hwpt, on device.c iommufd_device_attach / _replace /
 * _detach at a PASID, and the mock driver's set_dev_pasid). A mock device
 * created with MOCK_FLAGS_DEVICE_PASID has MOCK_PASID_WIDTH (20) bits of
 * PASID; one without has none.
 *
 * The RID's attachment stays where MOCK_DOMAIN put it (the device object's
 * `refs[0]`); the PASIDs' attachments live on the selftest object
 * (`attachments`, PASID → HWPT id), whose `refs` are [the device, the HWPTs
 * its PASIDs use], so a HWPT a PASID uses cannot be destroyed (EBUSY).
 * PASID compatibility is Linux's iommufd_hwpt_pasid_compat(): a PASID needs
 * a HWPT allocated with IOMMU_HWPT_ALLOC_PASID, and so does the RID's.
 * Auto domains are allocated with flags 0 (device.c
 * iommufd_device_auto_get_domain), so they never serve a PASID: naming an
 * IOAS at a PASID fails (EBUSY when the PASID is attached and it is an
 * attach, else EINVAL), after the new auto domain's allocation steps.
 * Detaching or replacing a PASID answers its pending page requests
 * INVALID (iommufd_hwpt_detach_device / _replace_device →
 * iommufd_auto_response_faults).
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import {
  type Errno,
  errno,
  IOMMU_HWPT_ALLOC_PASID,
  isErrno,
  MOCK_FLAGS_DEVICE_PASID,
  MOCK_PASID_WIDTH,
} from "@iommu-sim/uapi";
import { domainRef, mockDeviceInfo } from "../devices";
import type { HwRoot } from "../drivers/driver";
import { mockDriver } from "../drivers/mock";
import { faultDetachEffects } from "../fault/decide";
import { decideHwptPagingAlloc } from "../hwpt";
import { allocObjectId, getContext, getObject } from "../objects";
import type { IommufdRoot } from "../root";
import type { IommufdContext, IommufdObject } from "../state";

type Decided = { type: string; data: unknown }[];
type Ctx = SubsystemDecideContext<IommufdRoot>;

/** A PASID request on a mock device: its selftest object, device object and context. */
interface MockPasid {
  readonly context: IommufdContext;
  readonly stdev: IommufdObject;
  readonly idev: IommufdObject;
  readonly pasid: number;
}

/**
 * The selftest object `stdevId` (ENOENT otherwise, as
 * iommufd_get_object(…, IOMMUFD_OBJ_SELFTEST)) and the PASID: EINVAL for
 * PASID 0 (the RID goes by MOCK_DOMAIN_REPLACE), for a device without
 * MOCK_FLAGS_DEVICE_PASID and for a PASID beyond 20 bits.
 */
function mockPasid(root: IommufdRoot, ctxId: number, stdevId: number, pasid: number): MockPasid | Errno {
  const context = getContext(root.iommufd, ctxId);
  if (isErrno(context)) return context;
  const stdev = getObject(context, stdevId, "selftest");
  if (isErrno(stdev)) return stdev;
  const idev = context.objects[stdev.refs[0]!]!;
  if (pasid === 0) return errno("EINVAL", "PASID 0 is the RID");
  if (((idev.flags ?? 0) & MOCK_FLAGS_DEVICE_PASID) === 0)
    return errno("EINVAL", "the mock device has no PASID");
  if (pasid >= 2 ** MOCK_PASID_WIDTH)
    return errno("EINVAL", `PASID ${pasid} beyond ${MOCK_PASID_WIDTH} bits`);
  return { context, stdev, idev, pasid };
}

/** The HWPT id the mock device has at `pasid`, if any. */
export function mockPasidHwpt(stdev: IommufdObject, pasid: number): number | undefined {
  return stdev.attachments?.find((a) => a.pasid === pasid)?.hwpt;
}

const compat = (o: IommufdObject | undefined) => ((o?.flags ?? 0) & IOMMU_HWPT_ALLOC_PASID) !== 0;

/** iommufd_hwpt_pasid_compat() for a PASID: EINVAL unless `hwpt` and the RID's HWPT allow PASIDs. */
function checkCompat(r: MockPasid, hwpt: IommufdObject): Errno | undefined {
  if (!compat(hwpt)) return errno("EINVAL", "the HWPT was not allocated with IOMMU_HWPT_ALLOC_PASID");
  if (!compat(r.context.objects[r.idev.refs[0]!]))
    return errno("EINVAL", "the RID's HWPT does not allow PASID");
  return undefined;
}

/**
 * iommufd_hwpt_pasid_compat() for the RID (MOCK_DOMAIN_REPLACE): while
 * PASIDs of the device are attached, the RID's new HWPT `hwptId` must allow
 * PASIDs, else EINVAL. An id not yet in the table is a new auto domain,
 * which never does.
 */
export function checkMockRidCompat(
  context: IommufdContext,
  stdev: IommufdObject,
  hwptId: number,
): Errno | undefined {
  if ((stdev.attachments ?? []).length === 0) return undefined;
  return compat(context.objects[hwptId])
    ? undefined
    : errno("EINVAL", "PASIDs are attached: the RID's HWPT must allow PASID");
}

/**
 * The HWPT `ptId` names for this PASID (device.c iommufd_device_change_pt):
 * a paging or nested HWPT itself. ENOENT no object; EINVAL another type;
 * for an IOAS, `autoDomainAtPasid`'s refusal.
 */
function targetOf(
  root: IommufdRoot,
  r: MockPasid,
  ptId: number,
  ctx: Ctx,
  attach: boolean,
): IommufdObject | Errno {
  const pt = r.context.objects[ptId];
  if (pt === undefined) return errno("ENOENT", `no object ${ptId}`);
  if (pt.type === "hwpt_paging" || pt.type === "hwpt_nested") return pt;
  if (pt.type !== "ioas") return errno("EINVAL", `object ${ptId} is a ${pt.type}`);
  return autoDomainAtPasid(root, r, ptId, ctx, attach);
}

/**
 * iommufd_device_auto_get_domain at a PASID: every auto domain of IOAS
 * `ioasId` is tried and refused, then a new one (flags 0) is allocated —
 * its fault points run — and refused too, as none allows PASIDs. The
 * refusal is EBUSY for an attach at a PASID already attached (the
 * device_array insert comes before the compat check), else EINVAL.
 */
function autoDomainAtPasid(
  root: IommufdRoot,
  r: MockPasid,
  ioasId: number,
  ctx: Ctx,
  attach: boolean,
): Errno {
  const busy = attach && mockPasidHwpt(r.stdev, r.pasid) !== undefined;
  if (busy && autoDomainExists(r.context, ioasId))
    return errno("EBUSY", `PASID ${r.pasid} is already attached`);
  const hwptId = allocObjectId(r.context);
  if (isErrno(hwptId)) return hwptId;
  const req = { hwptId, ioasId, kobj: root.iommufd.nextKobj, flags: 0, autoDomain: true };
  const events = decideHwptPagingAlloc(root, r.context.id, req, ctx);
  if (isErrno(events)) return events;
  return busy
    ? errno("EBUSY", `PASID ${r.pasid} is already attached`)
    : errno("EINVAL", "an auto domain is not allocated with IOMMU_HWPT_ALLOC_PASID");
}

/** Whether IOAS `ioasId` has an auto-domain HWPT (the candidates auto_get_domain tries first). */
function autoDomainExists(context: IommufdContext, ioasId: number): boolean {
  for (const k in context.objects) {
    const o = context.objects[k]!;
    if (o.type === "hwpt_paging" && o.autoDomain === true && o.refs[0] === ioasId) return true;
  }
  return false;
}

/** The mock driver's set_dev_pasid of `r.pasid` to HWPT `hwpt` (its refusals: drivers/mock.ts). */
function driverAttach(root: IommufdRoot, r: MockPasid, hwpt: IommufdObject, ctx: Ctx): Decided | Errno {
  const dev = mockDeviceInfo(r.context.id, r.idev);
  return mockDriver.attachDevice(root as HwRoot, domainRef(root.iommufd, hwpt.kobj!), dev, r.pasid, ctx);
}

function pasidSet(r: MockPasid, hwpt: number) {
  return {
    type: "iommufd.selftest.pasid_set",
    data: { ctx: r.context.id, id: r.stdev.id, pasid: r.pasid, hwpt },
  };
}

/**
 * `iommufd.selftest.pasid_attach {ctx, stdevId, pasid, ptId}`: attach the
 * mock device's `pasid` to paging or nested HWPT `ptId` (device.c
 * iommufd_hw_pagetable_attach at a PASID). A PASID already attached is
 * EBUSY, to the same HWPT or another (attach does not overwrite, that is
 * replace).
 * Errors, in Linux's order: `mockPasid`'s (EBADF, ENOENT, EINVAL); ENOENT /
 * EINVAL `ptId` (an IOAS: `autoDomainAtPasid`); EBUSY attached; EINVAL
 * PASID compatibility; ENOMEM fault point `iommufd.pasid_attach_alloc`
 * (the attach handle). Events: `iommufd.selftest.pasid_set`.
 */
export function decideMockPasidAttach(
  root: IommufdRoot,
  c: { ctx: number; stdevId: number; pasid: number; ptId: number },
  ctx: Ctx,
): Decided | Errno {
  const r = mockPasid(root, c.ctx, c.stdevId, c.pasid);
  if (isErrno(r)) return r;
  const target = targetOf(root, r, c.ptId, ctx, true);
  if (isErrno(target)) return target;
  if (mockPasidHwpt(r.stdev, r.pasid) !== undefined)
    return errno("EBUSY", `PASID ${r.pasid} is already attached`);
  const bad = checkCompat(r, target);
  if (bad) return bad;
  const fail = ctx.step("iommufd.pasid_attach_alloc", "ENOMEM");
  if (fail) return fail;
  const hw = driverAttach(root, r, target, ctx);
  if (isErrno(hw)) return hw;
  return [...hw, pasidSet(r, target.id)];
}

/**
 * `iommufd.selftest.pasid_replace {ctx, stdevId, pasid, ptId}`: move an
 * attached PASID in one step (device.c iommufd_device_do_replace →
 * iommufd_hwpt_replace_device); the same HWPT changes nothing. The old
 * attachment's pending page requests are answered INVALID. The mock
 * driver (drivers/mock.ts) fails a replace at PASID
 * IOMMU_TEST_PASID_RESERVED (1024) of an attached PASID with ENOMEM and
 * keeps the old domain (selftest.c mock_domain_set_dev_pasid_nop).
 * Errors, in Linux's order: `mockPasid`'s; ENOENT / EINVAL `ptId` (an
 * IOAS: EINVAL); EINVAL the PASID is not attached; EINVAL PASID
 * compatibility; ENOMEM fault point `iommufd.pasid_replace_alloc` (the new
 * attach handle); ENOMEM at PASID 1024.
 */
export function decideMockPasidReplace(
  root: IommufdRoot,
  c: { ctx: number; stdevId: number; pasid: number; ptId: number },
  ctx: Ctx,
): Decided | Errno {
  const r = mockPasid(root, c.ctx, c.stdevId, c.pasid);
  if (isErrno(r)) return r;
  const target = targetOf(root, r, c.ptId, ctx, false);
  if (isErrno(target)) return target;
  const cur = mockPasidHwpt(r.stdev, r.pasid);
  if (cur === undefined) return errno("EINVAL", `PASID ${r.pasid} is not attached`);
  if (target.id === cur) return [];
  const bad = checkCompat(r, target);
  if (bad) return bad;
  const fail = ctx.step("iommufd.pasid_replace_alloc", "ENOMEM");
  if (fail) return fail;
  const hw = driverAttach(root, r, target, ctx);
  if (isErrno(hw)) return hw;
  return [...hw, ...faultDetachEffects(root, r.context.id, r.idev.id, r.pasid), pasidSet(r, target.id)];
}

/**
 * `iommufd.selftest.pasid_detach {ctx, stdevId, pasid}`: detach a PASID
 * (device.c iommufd_hw_pagetable_detach → iommufd_hwpt_detach_device): its
 * pending page requests are answered INVALID, then the attachment goes. A
 * PASID not attached is left alone (no events). Errors: `mockPasid`'s.
 */
export function decideMockPasidDetach(
  root: IommufdRoot,
  c: { ctx: number; stdevId: number; pasid: number },
): Decided | Errno {
  const r = mockPasid(root, c.ctx, c.stdevId, c.pasid);
  if (isErrno(r)) return r;
  if (mockPasidHwpt(r.stdev, r.pasid) === undefined) return [];
  return [
    ...mockDriver.detachDevice(root as HwRoot, mockDeviceInfo(r.context.id, r.idev), r.pasid),
    ...faultDetachEffects(root, r.context.id, r.idev.id, r.pasid),
    pasidSet(r, 0),
  ];
}

/**
 * The PASID detaches that destroying selftest object `stdev` starts with
 * (Linux expects them done first; the model does them): every PASID's
 * pending page requests are answered INVALID and its attachment goes.
 */
export function mockPasidDetachAll(root: IommufdRoot, stdev: IommufdObject, ctxId: number): Decided {
  const idevId = stdev.refs[0]!;
  return (stdev.attachments ?? []).flatMap((a) => [
    ...faultDetachEffects(root, ctxId, idevId, a.pasid),
    { type: "iommufd.selftest.pasid_set", data: { ctx: ctxId, id: stdev.id, pasid: a.pasid, hwpt: 0 } },
  ]);
}

/**
 * IOMMU_TEST_OP_PASID_CHECK_HWPT (iommufd_test_pasid_check_hwpt): 0 when
 * the mock device's `pasid` is attached to the domain of HWPT `hwptId`, or
 * detached when `hwptId` is 0; EINVAL otherwise. ENOENT no selftest object
 * or no object `hwptId`; EINVAL an object that is not a HWPT.
 */
export function mockPasidCheckHwpt(
  root: IommufdRoot,
  ctxId: number,
  stdevId: number,
  pasid: number,
  hwptId: number,
): Errno | undefined {
  const context = root.iommufd.contexts[ctxId]!;
  const stdev = getObject(context, stdevId, "selftest");
  if (isErrno(stdev)) return stdev;
  const cur = pasid === 0 ? context.objects[stdev.refs[0]!]?.refs[0] : mockPasidHwpt(stdev, pasid);
  if (hwptId === 0) return cur === undefined ? undefined : errno("EINVAL", `PASID ${pasid} is attached`);
  const hwpt = context.objects[hwptId];
  if (hwpt === undefined) return errno("ENOENT", `no object ${hwptId}`);
  if (hwpt.type !== "hwpt_paging" && hwpt.type !== "hwpt_nested")
    return errno("EINVAL", `object ${hwptId} is no HWPT`);
  const attached = cur === undefined ? undefined : context.objects[cur];
  return attached?.kobj === hwpt.kobj
    ? undefined
    : errno("EINVAL", `PASID ${pasid} is not on HWPT ${hwptId}`);
}
