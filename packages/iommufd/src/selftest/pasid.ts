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
 * Attaching an IOAS picks an auto-domain HWPT of it allocated with
 * IOMMU_HWPT_ALLOC_PASID, or allocates one.
 */
import { type SubsystemDecideContext, sealEpoch } from "@iommu-sim/eventlog";
import {
  type Errno,
  errno,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_TEST_PASID_RESERVED,
  isErrno,
  MOCK_FLAGS_DEVICE_PASID,
  MOCK_PASID_WIDTH,
} from "@iommu-sim/uapi";
import { decideHwptPagingAlloc, hwptPagingDestroyEffects } from "../hwpt";
import { allocObjectId, getContext, getObject, usersOf } from "../objects";
import type { IommufdRoot, RootEvolve } from "../root";
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
 * The alloc flags of a mock device's auto domain: IOMMU_HWPT_ALLOC_PASID
 * for a device with MOCK_FLAGS_DEVICE_PASID, as Linux allocates auto
 * domains of PASID-capable devices.
 */
export function mockAutoFlags(dev: { flags?: number }): number {
  return ((dev.flags ?? 0) & MOCK_FLAGS_DEVICE_PASID) !== 0 ? IOMMU_HWPT_ALLOC_PASID : 0;
}

/**
 * iommufd_hwpt_pasid_compat() for the RID (MOCK_DOMAIN_REPLACE): while
 * PASIDs of the device are attached, the RID's new HWPT `hwptId` (a new
 * auto domain: `newFlags`) must allow PASIDs, else EINVAL.
 */
export function checkMockRidCompat(
  context: IommufdContext,
  stdev: IommufdObject,
  hwptId: number,
  newFlags: number,
): Errno | undefined {
  if ((stdev.attachments ?? []).length === 0) return undefined;
  const existing = context.objects[hwptId];
  const flags = existing === undefined ? newFlags : (existing.flags ?? 0);
  return (flags & IOMMU_HWPT_ALLOC_PASID) !== 0
    ? undefined
    : errno("EINVAL", "PASIDs are attached: the RID's HWPT must allow PASID");
}

/**
 * The HWPT `ptId` names for this PASID: a paging or nested HWPT itself, or
 * for an IOAS a PASID-compatible auto domain on it, else a new one (its
 * events returned too). ENOENT no object; EINVAL another type.
 */
function targetOf(
  root: IommufdRoot,
  r: MockPasid,
  ptId: number,
  ctx: Ctx,
): { hwpt: IommufdObject; events: Decided } | Errno {
  const pt = r.context.objects[ptId];
  if (pt === undefined) return errno("ENOENT", `no object ${ptId}`);
  if (pt.type === "hwpt_paging" || pt.type === "hwpt_nested") return { hwpt: pt, events: [] };
  if (pt.type !== "ioas") return errno("EINVAL", `object ${ptId} is a ${pt.type}`);
  for (const k in r.context.objects) {
    const o = r.context.objects[k]!;
    if (
      o.type === "hwpt_paging" &&
      o.autoDomain === true &&
      o.refs[0] === ptId &&
      compat(o) &&
      o.kobj !== undefined
    )
      if (root.iommufd.hwDomains[o.kobj] === undefined) return { hwpt: o, events: [] };
  }
  const hwptId = allocObjectId(r.context);
  if (isErrno(hwptId)) return hwptId;
  const kobj = root.iommufd.nextKobj;
  const events = decideHwptPagingAlloc(
    root,
    r.context.id,
    { hwptId, ioasId: ptId, kobj, flags: IOMMU_HWPT_ALLOC_PASID, autoDomain: true },
    ctx,
  );
  if (isErrno(events)) return events;
  const hwpt: IommufdObject = { id: hwptId, type: "hwpt_paging", refs: [ptId], kobj, autoDomain: true };
  return { hwpt: { ...hwpt, flags: IOMMU_HWPT_ALLOC_PASID }, events: [...events] };
}

function pasidSet(r: MockPasid, hwpt: number) {
  return {
    type: "iommufd.selftest.pasid_set",
    data: { ctx: r.context.id, id: r.stdev.id, pasid: r.pasid, hwpt },
  };
}

/** Destroy auto domain `hwptId` when nothing uses it once `events` are applied. */
function dropIfUnused(root: IommufdRoot, ctxId: number, hwptId: number, events: Decided, evolve: RootEvolve) {
  sealEpoch();
  let after = root;
  for (const e of events) after = evolve(after, e);
  const c = after.iommufd.contexts[ctxId]!;
  const hwpt = c.objects[hwptId];
  if (hwpt?.autoDomain !== true || usersOf(c, hwptId).length > 0) return [];
  const effects = hwptPagingDestroyEffects(after, ctxId, hwpt);
  if (isErrno(effects)) return effects;
  return [
    ...effects,
    { type: "iommufd.object.destroyed", data: { ctx: ctxId, id: hwptId, type: hwpt.type } },
  ];
}

/**
 * `iommufd.selftest.pasid_attach {ctx, stdevId, pasid, ptId}`: attach the
 * mock device's `pasid` to `ptId`. A PASID already attached is EBUSY,
 * to the same HWPT or another (selftest iommufd_device_pasid: attach does
 * not overwrite, that is replace).
 * Errors: `mockPasid`'s (EBADF, ENOENT, EINVAL); ENOENT/EINVAL `ptId`;
 * EINVAL PASID compatibility; a new auto domain's errors; ENOMEM fault
 * point `iommufd.pasid_attach_alloc` (the group's attach handle).
 * Events: [new auto-domain HWPT], `iommufd.selftest.pasid_set`.
 */
export function decideMockPasidAttach(
  root: IommufdRoot,
  c: { ctx: number; stdevId: number; pasid: number; ptId: number },
  ctx: Ctx,
): Decided | Errno {
  const r = mockPasid(root, c.ctx, c.stdevId, c.pasid);
  if (isErrno(r)) return r;
  const target = targetOf(root, r, c.ptId, ctx);
  if (isErrno(target)) return target;
  const cur = mockPasidHwpt(r.stdev, r.pasid);
  if (cur !== undefined) return errno("EBUSY", `PASID ${r.pasid} is already attached`);
  const bad = checkCompat(r, target.hwpt);
  if (bad) return bad;
  const fail = ctx.step("iommufd.pasid_attach_alloc", "ENOMEM");
  if (fail) return fail;
  return [...target.events, pasidSet(r, target.hwpt.id)];
}

/**
 * `iommufd.selftest.pasid_replace {ctx, stdevId, pasid, ptId}`: move an
 * attached PASID in one step; the same HWPT changes nothing; the old auto
 * domain goes when nothing uses it any more. The mock driver fails every
 * replace at PASID IOMMU_TEST_PASID_RESERVED (1024) with ENOMEM and keeps
 * the old domain (selftest.c mock_domain_set_dev_pasid_nop).
 * Errors: as attach; EINVAL when the PASID is not attached.
 */
export function decideMockPasidReplace(
  root: IommufdRoot,
  c: { ctx: number; stdevId: number; pasid: number; ptId: number },
  ctx: Ctx,
  evolve: RootEvolve,
): Decided | Errno {
  const r = mockPasid(root, c.ctx, c.stdevId, c.pasid);
  if (isErrno(r)) return r;
  const cur = mockPasidHwpt(r.stdev, r.pasid);
  if (cur === undefined) return errno("EINVAL", `PASID ${r.pasid} is not attached`);
  const target = targetOf(root, r, c.ptId, ctx);
  if (isErrno(target)) return target;
  if (target.hwpt.id === cur) return [];
  const bad = checkCompat(r, target.hwpt);
  if (bad) return bad;
  if (r.pasid === IOMMU_TEST_PASID_RESERVED)
    return errno("ENOMEM", "the mock driver fails replaces at PASID 1024");
  const events = [...target.events, pasidSet(r, target.hwpt.id)];
  const dropped = dropIfUnused(root, r.context.id, cur, events, evolve);
  return isErrno(dropped) ? dropped : [...events, ...dropped];
}

/**
 * `iommufd.selftest.pasid_detach {ctx, stdevId, pasid}`: detach a PASID;
 * one not attached is left alone (no events). An auto domain left without
 * users is destroyed. Errors: `mockPasid`'s.
 */
export function decideMockPasidDetach(
  root: IommufdRoot,
  c: { ctx: number; stdevId: number; pasid: number },
  evolve: RootEvolve,
): Decided | Errno {
  const r = mockPasid(root, c.ctx, c.stdevId, c.pasid);
  if (isErrno(r)) return r;
  const cur = mockPasidHwpt(r.stdev, r.pasid);
  if (cur === undefined) return [];
  const events = [pasidSet(r, 0)];
  const dropped = dropIfUnused(root, r.context.id, cur, events, evolve);
  return isErrno(dropped) ? dropped : [...events, ...dropped];
}

/**
 * The PASID detaches that destroying selftest object `stdev` starts with
 * (Linux expects them done first; the model does them): every PASID's
 * attachment goes. Auto domains they leave unused go with the context's
 * close or an IOMMU_DESTROY, like any HWPT without users.
 */
export function mockPasidDetachAll(stdev: IommufdObject, ctxId: number): Decided {
  return (stdev.attachments ?? []).map((a) => ({
    type: "iommufd.selftest.pasid_set",
    data: { ctx: ctxId, id: stdev.id, pasid: a.pasid, hwpt: 0 },
  }));
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
