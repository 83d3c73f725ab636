/**
 * IOMMU_HWPT_ALLOC (Linux hw_pagetable.c iommufd_hwpt_alloc and
 * iommufd_hwpt_paging_alloc): a paging HWPT on an IOAS, of the device's
 * driver — the selftest mock for a mock device, VT-d or SMMUv3 for a bound
 * platform device —, attached to the IOAS (filled) but to no device;
 * userspace destroys it.
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import {
  type Errno,
  errno,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_HWPT_DATA_NONE,
  isErrno,
  MOCK_FLAGS_DEVICE_NO_DIRTY,
} from "@iommu-sim/uapi";
import { objectDevice } from "./devices";
import { driverOf } from "./drivers/index";
import { checkPagingFaultFlags, driverFlags, withFaultQueue } from "./fault/hwpt-fault";
import { decideHwptPagingAlloc, type HwTarget } from "./hwpt";
import { decideHwptNestedAlloc } from "./hwpt-nested";
import { allocObjectId, getContext, getObject } from "./objects";
import type { IommufdRoot } from "./root";

type Decided = { type: string; data: unknown }[];

/** Flags the mock driver's domain_alloc_paging_flags() accepts (selftest.c PAGING_FLAGS). */
const MOCK_PAGING_FLAGS =
  IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_PASID;

/**
 * Errors, in Linux's order: EINVAL data_type NONE with data_len ≠ 0 or a
 * type without data; ENOENT no device `devId` or no object `ptId`;
 * EOPNOTSUPP flags the driver does not take, DIRTY_TRACKING on a device
 * without the capability (mock flag; VT-d without ECAP.SSADS; any SMMU),
 * NEST_PARENT on a VT-d unit without ECAP.NEST, driver data on a paging HWPT;
 * EINVAL a `ptId` that is neither an IOAS nor a paging HWPT; the IOAS
 * attach's errors (EADDRINUSE…); ENOMEM at fault points. With
 * IOMMU_HWPT_FAULT_ID_VALID (fault/hwpt-fault.ts): EOPNOTSUPP with
 * NEST_PARENT, then ENOENT when `faultId` is not a fault object. A paging HWPT as
 * `ptId` allocates a nested HWPT (hwpt-nested.ts, with its own errors).
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
  if (pt === undefined) return errno("ENOENT", `no object ${c.ptId}`);
  if (pt.type === "hwpt_paging") {
    const nested = decideHwptNestedAlloc(root, { ...c, flags: driverFlags(c.flags) }, context, dev, pt, ctx);
    return withFaultQueue(context, nested, c.flags, c.faultId);
  }
  if (pt.type !== "ioas") return errno("EINVAL", `object ${c.ptId} is a ${pt.type}`);
  const info = objectDevice(root.iommufd, dev);
  const hw: HwTarget | undefined =
    info === undefined ? undefined : { driver: driverOf(info.driver), unit: info.unit };
  const supported = hw === undefined ? MOCK_PAGING_FLAGS : hw.driver.pagingFlags(root, hw.unit);
  if ((driverFlags(c.flags) & ~supported) !== 0)
    return errno("EOPNOTSUPP", "flags the driver does not support");
  const faultFlags = checkPagingFaultFlags(c.flags);
  if (faultFlags) return faultFlags;
  if (
    hw === undefined &&
    c.flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING &&
    (dev.flags ?? 0) & MOCK_FLAGS_DEVICE_NO_DIRTY
  ) {
    return errno("EOPNOTSUPP", "the device cannot track dirty pages");
  }
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
      ...(hw === undefined ? {} : { hw }),
    },
    ctx,
  );
  return withFaultQueue(context, paging, c.flags, c.faultId);
}
