/**
 * IOMMU_HWPT_INVALIDATE (Linux hw_pagetable.c iommufd_hwpt_invalidate):
 * a user-requested invalidation of the caches of a nested HWPT — the
 * guest's IOTLB flush of its stage-1 table, passed to the driver's
 * `cache_invalidate_user` as an array of driver-specific entries — or of
 * a vIOMMU (`hwpt_id` = a vIOMMU id: `viommu->ops->cache_invalidate`, whose
 * entries may name devices by their virtual ids).
 *
 * Entries are processed in order and processing stops at the first bad
 * one; the entries done before it stay done. So a partly processed
 * request is a committed command whose `iommufd.hwpt.invalidated` event
 * carries `handled` and the errno: the ioctl writes `handled` back to
 * `entry_num` and returns the errno. A request failing at its first entry
 * changes nothing and returns the Errno (no event), as every failed command.
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import { domainRef } from "./devices";
import type { Decided, HwRoot, UserDataArray, UserInvalidation } from "./drivers/driver";
import { driverOf } from "./drivers/index";
import { getContext } from "./objects";
import type { IommufdRoot } from "./root";
import type { IommufdObject } from "./state";
import { viommuRef } from "./viommu";

/** `iommufd.hwpt.invalidate`'s data (see the vocabulary). */
export interface HwptInvalidateRequest {
  readonly ctx: number;
  readonly hwptId: number;
  readonly dataType: number;
  readonly entryLen: number;
  readonly entryNum: number;
  readonly data: Uint8Array;
}

/**
 * Decide an invalidation. Errors (nothing processed): EBADF context;
 * EINVAL `entryNum` > 0 with `entryLen` 0; ENOENT no object `hwptId`;
 * EINVAL an object that is neither a nested HWPT nor a vIOMMU (a paging
 * HWPT included, as Linux ≥ 6.13); EOPNOTSUPP a driver without
 * `cache_invalidate_user` (SMMUv3 nested) or a vIOMMU without
 * `cache_invalidate`; the driver's error at entry 0 (EINVAL wrong data type…).
 * Events: the driver's (VT-d: `vtd.qi.executed` + `vtd.hwpt.invalidated`;
 * mock: `iommufd.mock_nested.iotlb_cleared`; mock vIOMMU:
 * `iommufd.mock_dev.cache_cleared`), then
 * `iommufd.hwpt.invalidated {handled, error?}`.
 */
export function decideHwptInvalidate(
  root: IommufdRoot,
  req: HwptInvalidateRequest,
  ctx: SubsystemDecideContext<IommufdRoot>,
): Decided | Errno {
  const context = getContext(root.iommufd, req.ctx);
  if (isErrno(context)) return context;
  if (req.entryNum > 0 && req.entryLen === 0) return errno("EINVAL", "entry_len 0 with entries");
  const hwpt = context.objects[req.hwptId];
  if (hwpt === undefined) return errno("ENOENT", `no object ${req.hwptId}`);
  const array = { type: req.dataType, entryLen: req.entryLen, entryNum: req.entryNum, data: req.data };
  const r =
    hwpt.type === "viommu"
      ? viommuInvalidate(root, req.ctx, hwpt, array, ctx)
      : nestedInvalidate(root, req.hwptId, hwpt, array, ctx);
  if (isErrno(r)) return r;
  if (r.error !== undefined && r.handled === 0) return r.error;
  const error = r.error === undefined ? {} : { error: r.error.name };
  return [
    ...r.events,
    {
      type: "iommufd.hwpt.invalidated",
      data: { ctx: req.ctx, hwptId: req.hwptId, handled: r.handled, ...error },
    },
  ];
}

/** A nested HWPT's `domain->ops->cache_invalidate_user`: EINVAL another object type; EOPNOTSUPP a driver without it. */
function nestedInvalidate(
  root: IommufdRoot,
  id: number,
  hwpt: IommufdObject,
  array: UserDataArray,
  ctx: SubsystemDecideContext<IommufdRoot>,
): UserInvalidation | Errno {
  if (hwpt.type !== "hwpt_nested") return errno("EINVAL", `object ${id} is a ${hwpt.type}`);
  const ref = domainRef(root.iommufd, hwpt.kobj!);
  const driver = driverOf(ref.driver);
  if (driver.userInvalidate === undefined)
    return errno("EOPNOTSUPP", `${ref.driver} nested domains take no user invalidation`);
  return driver.userInvalidate(root as HwRoot, ref, array, ctx);
}

/** A vIOMMU's `viommu->ops->cache_invalidate`: EOPNOTSUPP a driver without it. */
function viommuInvalidate(
  root: IommufdRoot,
  ctxId: number,
  viommu: IommufdObject,
  array: UserDataArray,
  ctx: SubsystemDecideContext<IommufdRoot>,
): UserInvalidation | Errno {
  const ref = viommuRef(root, ctxId, viommu);
  // The vIOMMU's driver is its nesting parent's (viommu.ts checks they are the same IOMMU).
  const driver = driverOf(ref.parent.driver);
  if (driver.viommuInvalidate === undefined) return errno("EOPNOTSUPP", "the vIOMMU takes no invalidation");
  return driver.viommuInvalidate(root as HwRoot, ref, array, ctx);
}
