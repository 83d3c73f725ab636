/**
 * Nested HW page tables (Linux hw_pagetable.c iommufd_hwpt_nested_alloc,
 * iommufd_hwpt_nested_destroy): a user-managed stage-1 domain of the
 * device's driver over a NEST_PARENT paging HWPT, on which it holds a
 * users reference (`refs = [parent]`), so the parent cannot be destroyed
 * first (EBUSY). The driver reads the stage-1 description from the
 * user data: `iommu_hwpt_vtd_s1` (VT-d, drivers/vtd-nested.ts),
 * `iommu_hwpt_arm_smmuv3` (SMMUv3, drivers/smmu-nested.ts) or
 * `iommu_hwpt_selftest` (the selftest mock, drivers/mock.ts over
 * selftest/nested.ts).
 *
 * A nested HWPT can also be allocated on a vIOMMU (Linux
 * iommufd_viommu_alloc_hwpt_nested, `pt_id` = the vIOMMU, viommu.ts): it
 * then holds its users reference on the vIOMMU (`refs = [vIOMMU]`), and
 * its parent is the vIOMMU's (`nestingParentId`). Only the selftest mock
 * has a vIOMMU here.
 *
 * Deviation: Linux ≥ 6.13 allocates SMMUv3 nested domains on a vIOMMU
 * only; SMMUv3 vIOMMUs are not modelled, so its nested domains (and
 * VT-d's, and the mock's pre-vIOMMU form) take the NEST_PARENT HWPT as
 * `pt_id`.
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import {
  type Errno,
  errno,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
  isErrno,
} from "@iommu-sim/uapi";
import { deviceOf, domainRef, driverKey, hwptDriverKey } from "./devices";
import type { Decided, HwRoot, UserData } from "./drivers/driver";
import { driverOf } from "./drivers/index";
import { allocObjectId } from "./objects";
import type { IommufdRoot } from "./root";
import type { IommufdContext, IommufdObject } from "./state";
import { viommuRef } from "./viommu";

/** What IOMMU_HWPT_ALLOC carries for a nested HWPT. */
export interface NestedAllocRequest {
  readonly ctx: number;
  readonly flags: number;
  readonly dataType: number;
  readonly dataLen: number;
  /** The bytes copied from data_uptr; absent when they could not be read (EFAULT at the driver's copy). */
  readonly data?: Uint8Array;
}

/**
 * A nested HWPT for device object `dev` on paging HWPT `parent` of
 * context `context` (iommufd_hwpt_nested_alloc). `req.flags` are the
 * driver's flags (IOMMU_HWPT_FAULT_ID_VALID is taken off and handled by the
 * caller, fault/hwpt-fault.ts). IOMMU_HWPT_ALLOC_PASID makes the nested
 * HWPT PASID-compatible (Linux ≥ 6.15 `hwpt->pasid_compat`) if the driver
 * takes it (VT-d and the mock do, SMMUv3 answers EOPNOTSUPP). Errors, in
 * Linux's order: EOPNOTSUPP any other flag, no driver data (data_type
 * NONE), or a driver without nesting; EINVAL a parent that is an auto
 * domain, was not
 * allocated with IOMMU_HWPT_ALLOC_NEST_PARENT, or belongs to another
 * driver or unit; ENOSPC no object id; ENOMEM fault point
 * `iommufd.hwpt_nested_alloc` (the object); then the driver's errors.
 * Events: the driver's (hardware domain + `iommufd.hw_domain.bound`, or
 * `iommufd.mock_nested.allocated`), `iommufd.object.created` (type
 * `hwpt_nested`, refs [parent], a new kobj).
 */
export function decideHwptNestedAlloc(
  root: IommufdRoot,
  req: NestedAllocRequest,
  context: IommufdContext,
  dev: IommufdObject,
  parent: IommufdObject,
  ctx: SubsystemDecideContext<IommufdRoot>,
): Decided | Errno {
  if ((req.flags & ~IOMMU_HWPT_ALLOC_PASID) !== 0)
    return errno("EOPNOTSUPP", "only IOMMU_HWPT_ALLOC_PASID is taken on a nested HWPT");
  if (req.dataLen === 0) return errno("EOPNOTSUPP", "a nested HWPT needs driver data");
  const info = deviceOf(root.iommufd, req.ctx, dev);
  if (info === undefined) return errno("ENODEV", "the device is not on the platform");
  const driver = driverOf(info.driver);
  if (driver.allocNested === undefined)
    return errno("EOPNOTSUPP", "the driver cannot allocate nested domains");
  if (parent.autoDomain === true || ((parent.flags ?? 0) & IOMMU_HWPT_ALLOC_NEST_PARENT) === 0)
    return errno("EINVAL", "the parent HWPT was not allocated with IOMMU_HWPT_ALLOC_NEST_PARENT");
  if (hwptDriverKey(root.iommufd, parent) !== driverKey(info))
    return errno("EINVAL", "the parent HWPT belongs to another IOMMU");
  const n = newNested(root, req, context, ctx);
  if (isErrno(n)) return n;
  const parentRef = domainRef(root.iommufd, parent.kobj!);
  const events = driver.allocNested(root as HwRoot, parentRef, info, n.kobj, req.flags, n.data, ctx);
  return isErrno(events) ? events : withCreated(events, req, n, parent.id);
}

/** A nested HWPT about to be created: its object id, kernel object and the driver data. */
interface NewNested {
  readonly hwptId: number;
  readonly kobj: number;
  readonly data: UserData;
}

/**
 * The object id and kernel object of a new nested HWPT, with `req`'s driver
 * data. Errors: ENOSPC no object id; ENOMEM fault point
 * `iommufd.hwpt_nested_alloc` (the object's allocation).
 */
function newNested(
  root: IommufdRoot,
  req: NestedAllocRequest,
  context: IommufdContext,
  ctx: SubsystemDecideContext<IommufdRoot>,
): NewNested | Errno {
  const hwptId = allocObjectId(context);
  if (isErrno(hwptId)) return hwptId;
  const fail = ctx.step("iommufd.hwpt_nested_alloc", "ENOMEM");
  if (fail) return fail;
  const data: UserData = {
    type: req.dataType,
    len: req.dataLen,
    ...(req.data === undefined ? {} : { bytes: req.data }),
  };
  return { hwptId, kobj: root.iommufd.nextKobj, data };
}

/** The driver's `events`, then `iommufd.object.created` of nested HWPT `n` holding object `on` (its parent or vIOMMU). */
function withCreated(events: Decided, req: NestedAllocRequest, n: NewNested, on: number): Decided {
  const data = {
    ctx: req.ctx,
    id: n.hwptId,
    type: "hwpt_nested",
    kobj: n.kobj,
    refs: [on],
    flags: req.flags,
  };
  return [...events, { type: "iommufd.object.created", data }];
}

/**
 * Destroying a nested HWPT (iommufd_hwpt_nested_destroy): the driver frees
 * its domain (VT-d `vtd.domain.freed`, SMMU `smmu.domain.freed`, then
 * `iommufd.hw_domain.unbound`; the mock `iommufd.mock_nested.freed`); the
 * parent's users reference goes with the object. Cannot fail.
 */
export function hwptNestedDestroyEffects(root: IommufdRoot, hwpt: IommufdObject): Decided {
  const ref = domainRef(root.iommufd, hwpt.kobj!);
  return driverOf(ref.driver).freeDomain(root as HwRoot, ref, hwpt.kobj!);
}

/**
 * A nested HWPT on vIOMMU `viommu` for device object `dev`
 * (iommufd_hwpt_alloc()'s vIOMMU branch, then
 * iommufd_viommu_alloc_hwpt_nested()). `req.flags` are without
 * IOMMU_HWPT_FAULT_ID_VALID (handled by the caller, fault/hwpt-fault.ts).
 * Errors, in Linux's order: ENODEV a device missing from the platform;
 * EINVAL the device sits behind another IOMMU than the vIOMMU's;
 * EOPNOTSUPP flags other than IOMMU_HWPT_ALLOC_PASID, no driver data, a
 * vIOMMU without `alloc_domain_nested`; ENOSPC no object id; ENOMEM fault
 * point `iommufd.hwpt_nested_alloc`; then the driver's errors (the mock:
 * selftest/viommu.ts). Unlike the NEST_PARENT form, the parent's own
 * checks (auto domain, NEST_PARENT) were made when the vIOMMU was allocated.
 * Events: the driver's (`iommufd.mock_nested.allocated` with the vIOMMU),
 * `iommufd.object.created` (type `hwpt_nested`, refs [viommu], a new kobj).
 */
export function decideViommuHwptNestedAlloc(
  root: IommufdRoot,
  req: NestedAllocRequest,
  context: IommufdContext,
  dev: IommufdObject,
  viommu: IommufdObject,
  ctx: SubsystemDecideContext<IommufdRoot>,
): Decided | Errno {
  const info = deviceOf(root.iommufd, req.ctx, dev);
  if (info === undefined) return errno("ENODEV", "the device is not on the platform");
  if (driverKey(info) !== viommu.iommu) return errno("EINVAL", "the device is not behind the vIOMMU's IOMMU");
  if ((req.flags & ~IOMMU_HWPT_ALLOC_PASID) !== 0)
    return errno("EOPNOTSUPP", "only IOMMU_HWPT_ALLOC_PASID is taken on a nested HWPT");
  if (req.dataLen === 0) return errno("EOPNOTSUPP", "a nested HWPT needs driver data");
  const driver = driverOf(info.driver);
  if (driver.viommuAllocNested === undefined)
    return errno("EOPNOTSUPP", "the vIOMMU cannot allocate nested domains");
  const n = newNested(root, req, context, ctx);
  if (isErrno(n)) return n;
  const ref = viommuRef(root, req.ctx, viommu);
  const events = driver.viommuAllocNested(root as HwRoot, ref, n.kobj, req.flags, n.data, ctx);
  return isErrno(events) ? events : withCreated(events, req, n, viommu.id);
}

/**
 * The paging HWPT a nested HWPT nests on (Linux `hwpt_nested->parent`):
 * its `refs[0]`, or, for one allocated on a vIOMMU, the vIOMMU's parent.
 */
export function nestingParentId(c: IommufdContext, nested: IommufdObject): number {
  const on = c.objects[nested.refs[0]!]!;
  return on.type === "viommu" ? on.refs[0]! : on.id;
}

/**
 * The IOAS object id behind a HWPT: a paging HWPT's own IOAS, a nested
 * HWPT's parent's (Linux find_hwpt_paging(): reserved regions and the
 * IOAS of an attachment are the parent's).
 */
export function hwptIoasId(c: IommufdContext, hwpt: IommufdObject): number {
  if (hwpt.type === "hwpt_nested") return c.objects[nestingParentId(c, hwpt)]!.refs[0]!;
  return hwpt.refs[0]!;
}
