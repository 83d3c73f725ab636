/**
 * vIOMMU objects (Linux drivers/iommu/iommufd/viommu.c
 * `iommufd_viommu_alloc_ioctl()`, `iommufd_viommu_destroy()`): a VM's
 * slice of one physical IOMMU, over a NEST_PARENT paging HWPT (its stage
 * 2), on which it holds a users reference (`refs = [parent HWPT]`), so the
 * parent cannot be destroyed first (EBUSY). Nested HWPTs allocated on it
 * (hwpt-nested.ts) and its vDEVICEs (vdevice.ts) hold one on it in turn.
 * The IOMMU instance behind it (`viommu->iommu_dev`) is kept as the
 * device's driver key (`iommu`): recorded, not counted — Linux's
 * reference (the mock's `mock_iommu.users`) only keeps the instance from
 * being unregistered, and the model never removes IOMMU units. Destroying
 * it changes nothing outside the table (`mock_viommu_destroy()` only drops
 * that refcount).
 *
 * Only the selftest mock driver implements a vIOMMU type here
 * (IOMMU_VIOMMU_TYPE_SELFTEST, selftest/viommu.ts); VT-d and SMMUv3
 * devices answer EOPNOTSUPP, as a driver without `viommu_init`.
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import {
  type Errno,
  errno,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_VIOMMU_TYPE_DEFAULT,
  isErrno,
} from "@iommu-sim/uapi";
import { deviceOf, domainRef, driverKey, hwptDriverKey } from "./devices";
import type { Decided, HwRoot, UserData, ViommuRef } from "./drivers/driver";
import { driverOf } from "./drivers/index";
import { allocObjectId, getContext, getObject } from "./objects";
import type { IommufdRoot } from "./root";
import type { IommufdContext, IommufdObject } from "./state";

/** `iommufd.viommu.alloc`'s data (see the vocabulary). */
export interface ViommuAllocRequest {
  readonly ctx: number;
  readonly flags: number;
  readonly type: number;
  readonly devId: number;
  readonly hwptId: number;
  /** Bytes of driver data (0: none, the driver gets no user data). */
  readonly dataLen: number;
  /** The bytes at data_uptr; absent when they could not be read (EFAULT where the driver copies them). */
  readonly data?: Uint8Array;
}

/** The driver's view of vIOMMU object `viommu` of context `ctx` (its parent HWPT must exist: it holds it). */
export function viommuRef(root: IommufdRoot, ctx: number, viommu: IommufdObject): ViommuRef {
  const parent = root.iommufd.contexts[ctx]!.objects[viommu.refs[0]!]!;
  return {
    ctx,
    id: viommu.id,
    kobj: viommu.kobj!,
    type: viommu.viommuType!,
    parent: domainRef(root.iommufd, parent.kobj!),
  };
}

/**
 * IOMMU_VIOMMU_ALLOC. Errors, in Linux's order: EBADF context; EOPNOTSUPP
 * `flags` ≠ 0 or type IOMMU_VIOMMU_TYPE_DEFAULT (0); ENOENT `devId` is not
 * a device; EOPNOTSUPP its driver has no vIOMMU or not this type
 * (`get_viommu_size()` = 0); ENOENT `hwptId` is not a paging HWPT
 * (iommufd_get_hwpt_paging()); EINVAL it was not allocated with
 * IOMMU_HWPT_ALLOC_NEST_PARENT (an auto domain never is) — and, where
 * Linux does not check but its driver would misuse the domain, EINVAL a
 * parent of another IOMMU; ENOSPC no object id; ENOMEM fault point
 * `iommufd.viommu_alloc` (the object's kzalloc); then the driver's
 * `viommu_init` errors (the mock: EINVAL data_len ≠ 8, EFAULT data_uptr
 * unreadable).
 * Events: the driver's, `iommufd.object.created` (type `viommu`, refs
 * [hwptId], a new kobj, `viommuType`, `iommu`), and
 * `iommufd.viommu.data_returned` when the driver answers in the data.
 */
export function decideViommuAlloc(
  root: IommufdRoot,
  req: ViommuAllocRequest,
  ctx: SubsystemDecideContext<IommufdRoot>,
): Decided | Errno {
  const context = getContext(root.iommufd, req.ctx);
  if (isErrno(context)) return context;
  if (req.flags !== 0) return errno("EOPNOTSUPP", "iommu_viommu_alloc.flags must be 0");
  if (req.type === IOMMU_VIOMMU_TYPE_DEFAULT)
    return errno("EOPNOTSUPP", "IOMMU_VIOMMU_TYPE_DEFAULT is reserved");
  const dev = getObject(context, req.devId, "device");
  if (isErrno(dev)) return dev;
  const info = deviceOf(root.iommufd, req.ctx, dev);
  if (info === undefined) return errno("ENODEV", `device ${req.devId} is not on the platform`);
  const driver = driverOf(info.driver);
  if (driver.viommuInit === undefined || driver.viommuTypeSupported?.(info, req.type) !== true)
    return errno("EOPNOTSUPP", `the ${info.driver} driver has no vIOMMU of type ${req.type}`);
  const parent = checkParent(root, context, req.hwptId, driverKey(info));
  if (isErrno(parent)) return parent;
  const id = allocObjectId(context);
  if (isErrno(id)) return id;
  const fail = ctx.step("iommufd.viommu_alloc", "ENOMEM");
  if (fail) return fail;
  const ref: ViommuRef = {
    ctx: req.ctx,
    id,
    kobj: root.iommufd.nextKobj,
    type: req.type,
    parent: domainRef(root.iommufd, parent.kobj!),
  };
  const init = driver.viommuInit(root as HwRoot, ref, userData(req), ctx);
  if (isErrno(init)) return init;
  const answer =
    init.dataOut === undefined
      ? []
      : [{ type: "iommufd.viommu.data_returned", data: { ctx: req.ctx, id, bytes: init.dataOut } }];
  return [...init.events, created(ref, parent, driverKey(info)), ...answer];
}

/** The `iommufd.object.created` of vIOMMU `ref` over `parent`, on IOMMU instance `iommu`. */
function created(ref: ViommuRef, parent: IommufdObject, iommu: string) {
  return {
    type: "iommufd.object.created",
    data: {
      ctx: ref.ctx,
      id: ref.id,
      type: "viommu",
      kobj: ref.kobj,
      refs: [parent.id],
      viommuType: ref.type,
      iommu,
    },
  };
}

/**
 * The nesting parent `hwptId` for a vIOMMU of the IOMMU `iommu`: ENOENT
 * not a paging HWPT; EINVAL not allocated with NEST_PARENT, or (a model
 * check, see `decideViommuAlloc`) a domain of another IOMMU.
 */
function checkParent(
  root: IommufdRoot,
  c: IommufdContext,
  hwptId: number,
  iommu: string,
): IommufdObject | Errno {
  const hwpt = getObject(c, hwptId, "hwpt_paging");
  if (isErrno(hwpt)) return hwpt;
  if (((hwpt.flags ?? 0) & IOMMU_HWPT_ALLOC_NEST_PARENT) === 0)
    return errno("EINVAL", `HWPT ${hwptId} was not allocated with IOMMU_HWPT_ALLOC_NEST_PARENT`);
  if (hwptDriverKey(root.iommufd, hwpt) !== iommu)
    return errno("EINVAL", `HWPT ${hwptId} belongs to another IOMMU than the device's`);
  return hwpt;
}

/** `struct iommu_user_data` of the request (type = the vIOMMU type), or none when data_len is 0. */
function userData(req: ViommuAllocRequest): UserData | undefined {
  if (req.dataLen === 0) return undefined;
  return { type: req.type, len: req.dataLen, ...(req.data === undefined ? {} : { bytes: req.data }) };
}
