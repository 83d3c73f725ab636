/**
 * IOMMU_HWPT_ALLOC (Linux hw_pagetable.c iommufd_hwpt_alloc and
 * iommufd_hwpt_paging_alloc): a paging HWPT on an IOAS, of the device's
 * driver (drivers/: the selftest mock for a mock device, VT-d or SMMUv3
 * for a bound platform device), attached to the IOAS (filled) but to no device;
 * userspace destroys it.
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import {
  type Errno,
  errno,
  IOMMU_HW_CAP_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_DATA_NONE,
  isErrno,
} from "@iommu-sim/uapi";
import { deviceOf } from "./devices";
import type { DeviceInfo, HwRoot } from "./drivers/driver";
import { driverOf } from "./drivers/index";
import { checkPagingFaultFlags, driverFlags, withFaultQueue } from "./fault/hwpt-fault";
import { decideHwptPagingAlloc, type HwTarget } from "./hwpt";
import { decideHwptNestedAlloc, decideViommuHwptNestedAlloc } from "./hwpt-nested";
import { allocObjectId, getContext, getObject } from "./objects";
import type { IommufdRoot } from "./root";

type Decided = { type: string; data: unknown }[];

/**
 * Linux `device_iommu_capable(dev, IOMMU_CAP_DIRTY_TRACKING)`: the driver's
 * hw info reports IOMMU_HW_CAP_DIRTY_TRACKING (the mock unless
 * MOCK_FLAGS_DEVICE_NO_DIRTY; VT-d with ECAP.SSADS; no SMMU here).
 */
function dirtyCapable(root: IommufdRoot, info: DeviceInfo): boolean {
  const hw = driverOf(info.driver).hwInfo(root as HwRoot, info);
  return hw !== undefined && (hw.capabilities & BigInt(IOMMU_HW_CAP_DIRTY_TRACKING)) !== 0n;
}

/**
 * Errors, in Linux's order: EINVAL data_type NONE with data_len ≠ 0 or a
 * type without data; ENOENT no device `devId`; EINVAL no object `ptId`;
 * EOPNOTSUPP flags the driver does not take, DIRTY_TRACKING on a device
 * without the capability (mock flag; VT-d without ECAP.SSADS; any SMMU),
 * NEST_PARENT on a VT-d unit without ECAP.NEST, driver data on a paging HWPT;
 * EINVAL a `ptId` that is neither an IOAS nor a paging HWPT; the IOAS
 * attach's errors (EADDRINUSE…); ENOMEM at fault points. With
 * IOMMU_HWPT_FAULT_ID_VALID (fault/hwpt-fault.ts): EOPNOTSUPP with
 * NEST_PARENT, then ENOENT when `faultId` is not a fault object. A paging HWPT
 * or a vIOMMU as `ptId` allocates a nested HWPT (hwpt-nested.ts, with its own errors).
 */
export function decideHwptAlloc(
  root: IommufdRoot,
  c: {
    ctx: number;
    devId: number;
    ptId: number;
    flags: number;
    dataType: number;
    dataLen: number;
    data?: Uint8Array;
    faultId?: number;
  },
  ctx: SubsystemDecideContext<IommufdRoot>,
): Decided | Errno {
  const context = getContext(root.iommufd, c.ctx);
  if (isErrno(context)) return context;
  if ((c.dataType === IOMMU_HWPT_DATA_NONE) !== (c.dataLen === 0)) {
    return errno("EINVAL", "data_len must be 0 exactly when data_type is NONE");
  }
  const dev = getObject(context, c.devId, "device");
  if (isErrno(dev)) return dev;
  const pt = context.objects[c.ptId];
  // iommufd_hwpt_alloc() answers a failed IOMMUFD_OBJ_ANY lookup of pt_id with EINVAL, not ENOENT.
  if (pt === undefined) return errno("EINVAL", `no object ${c.ptId}`);
  if (pt.type === "hwpt_paging") {
    const nested = decideHwptNestedAlloc(root, { ...c, flags: driverFlags(c.flags) }, context, dev, pt, ctx);
    return withFaultQueue(context, nested, c.flags, c.faultId);
  }
  if (pt.type === "viommu") {
    const req = { ...c, flags: driverFlags(c.flags) };
    return withFaultQueue(
      context,
      decideViommuHwptNestedAlloc(root, req, context, dev, pt, ctx),
      c.flags,
      c.faultId,
    );
  }
  if (pt.type !== "ioas") return errno("EINVAL", `object ${c.ptId} is a ${pt.type}`);
  const info = deviceOf(root.iommufd, c.ctx, dev);
  if (info === undefined) return errno("ENODEV", `device ${c.devId} is not on the platform`);
  const hw: HwTarget = { driver: driverOf(info.driver), unit: info.unit };
  if ((driverFlags(c.flags) & ~hw.driver.pagingFlags(root, hw.unit)) !== 0)
    return errno("EOPNOTSUPP", "flags the driver does not support");
  const faultFlags = checkPagingFaultFlags(c.flags);
  if (faultFlags) return faultFlags;
  // iommufd_hwpt_paging_alloc(): DIRTY_TRACKING needs device_iommu_capable(IOMMU_CAP_DIRTY_TRACKING).
  if (c.flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING && !dirtyCapable(root, info))
    return errno("EOPNOTSUPP", "the device cannot track dirty pages");
  if (c.dataLen !== 0) return errno("EOPNOTSUPP", "paging HWPTs take no driver data");
  const hwptId = allocObjectId(context);
  if (isErrno(hwptId)) return hwptId;
  const paging = decideHwptPagingAlloc(
    root,
    c.ctx,
    {
      hwptId,
      ioasId: pt.id,
      kobj: root.iommufd.nextKobj,
      flags: driverFlags(c.flags),
      autoDomain: false,
      hw,
    },
    ctx,
  );
  return withFaultQueue(context, paging, c.flags, c.faultId);
}
