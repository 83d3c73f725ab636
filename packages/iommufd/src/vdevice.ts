/**
 * vDEVICE objects (Linux drivers/iommu/iommufd/viommu.c
 * `iommufd_vdevice_alloc_ioctl()`, `iommufd_vdevice_destroy()`): a
 * device as a VM sees it on one vIOMMU, under its virtual id (`virt_id`:
 * the vSID of an SMMUv3, the vRID of VT-d). It holds a users reference on
 * its vIOMMU and names its device: `refs = [vIOMMU, device]`. A device has
 * at most one vDEVICE (`idev->vdev`), and a vIOMMU at most one per
 * virtual id (its `vdevs` xarray). The vIOMMU's driver finds devices by
 * virtual id through it (the mock's invalidation, selftest/viommu.ts), and
 * the mock driver needs it before a device's RID attaches to a nested
 * domain of the vIOMMU (drivers/mock.ts).
 * When the device goes first (its selftest object destroyed,
 * `iommufd_device_remove_vdev()`), the vDEVICE is destroyed with it and
 * its id left as a tombstone (`iommufd.object.tombstoned`): IOMMU_DESTROY
 * of it is ENOENT, and it is not reused until the context closes.
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import { deviceOf, driverKey } from "./devices";
import type { Decided } from "./drivers/driver";
import { allocObjectId, getContext, getObject } from "./objects";
import type { IommufdRoot } from "./root";
import type { IommufdContext, IommufdObject } from "./state";

/** `iommufd.vdevice.alloc`'s data (see the vocabulary). */
export interface VdeviceAllocRequest {
  readonly ctx: number;
  readonly viommuId: number;
  readonly devId: number;
  /** The virtual id, a u64 (an xarray index: Linux refuses > ULONG_MAX, never true on a 64-bit host). */
  readonly virtId: bigint;
}

/** The vDEVICE of device object `devId` (Linux `idev->vdev`), if it has one. */
export function vdeviceOfDevice(c: IommufdContext, devId: number): IommufdObject | undefined {
  for (const k in c.objects) {
    const o = c.objects[k]!;
    if (o.type === "vdevice" && o.refs[1] === devId) return o;
  }
  return undefined;
}

/** The vDEVICE of vIOMMU `viommuId` with virtual id `virtId` (`iommufd_viommu_find_dev()`), if any. */
export function vdeviceByVirtId(
  c: IommufdContext,
  viommuId: number,
  virtId: bigint,
): IommufdObject | undefined {
  for (const k in c.objects) {
    const o = c.objects[k]!;
    if (o.type === "vdevice" && o.refs[0] === viommuId && o.virtId === virtId) return o;
  }
  return undefined;
}

/**
 * IOMMU_VDEVICE_ALLOC. Errors, in Linux's order: EBADF context; ENOENT
 * `viommuId` is not a vIOMMU; ENOENT `devId` is not a device; EINVAL the
 * device sits behind another IOMMU than the vIOMMU's; EEXIST the device
 * has a vDEVICE already (on any vIOMMU); ENOSPC no object id; ENOMEM
 * fault point `iommufd.vdevice_alloc` (the object's kzalloc); EEXIST the
 * vIOMMU has a vDEVICE with this virtual id; ENOMEM fault point
 * `iommufd.vdevice_xa_store` (xa_cmpxchg's node allocation).
 * Events: `iommufd.object.created` (type `vdevice`, refs [vIOMMU, device], `virtId`).
 */
export function decideVdeviceAlloc(
  root: IommufdRoot,
  req: VdeviceAllocRequest,
  ctx: SubsystemDecideContext<IommufdRoot>,
): Decided | Errno {
  const c = getContext(root.iommufd, req.ctx);
  if (isErrno(c)) return c;
  const viommu = getObject(c, req.viommuId, "viommu");
  if (isErrno(viommu)) return viommu;
  const dev = getObject(c, req.devId, "device");
  if (isErrno(dev)) return dev;
  const info = deviceOf(root.iommufd, req.ctx, dev);
  if (info === undefined || driverKey(info) !== viommu.iommu)
    return errno("EINVAL", "the device sits behind another IOMMU than the vIOMMU's");
  const held = vdeviceOfDevice(c, dev.id);
  if (held !== undefined) return errno("EEXIST", `device ${dev.id} has vDEVICE ${held.id} already`);
  const id = allocObjectId(c);
  if (isErrno(id)) return id;
  const fail = ctx.step("iommufd.vdevice_alloc", "ENOMEM");
  if (fail) return fail;
  if (vdeviceByVirtId(c, viommu.id, req.virtId) !== undefined)
    return errno("EEXIST", `virtual id 0x${req.virtId.toString(16)} is taken on the vIOMMU`);
  const store = ctx.step("iommufd.vdevice_xa_store", "ENOMEM");
  if (store) return store;
  return [
    {
      type: "iommufd.object.created",
      data: { ctx: req.ctx, id, type: "vdevice", refs: [viommu.id, dev.id], virtId: req.virtId },
    },
  ];
}

/**
 * The destruction of device `idev`'s vDEVICE, if it has one, when the
 * device goes (`iommufd_device_remove_vdev()` →
 * `iommufd_object_tombstone_user()`): its id becomes a tombstone. Cannot fail.
 */
export function vdeviceRemoveEffects(c: IommufdContext, idev: IommufdObject): Decided {
  const vdev = vdeviceOfDevice(c, idev.id);
  if (vdev === undefined) return [];
  return [{ type: "iommufd.object.tombstoned", data: { ctx: c.id, id: vdev.id, type: "vdevice" } }];
}
