/**
 * Commands and events of iommufd's virtualization objects (Linux
 * drivers/iommu/iommufd/viommu.c): the vIOMMU (IOMMU_VIOMMU_ALLOC,
 * `iommufd_viommu_alloc_ioctl`) and the vDEVICE (IOMMU_VDEVICE_ALLOC,
 * `iommufd_vdevice_alloc_ioctl`), as the selftest mock driver implements
 * them (selftest.c `mock_viommu_init()`, `mock_viommu_cache_invalidate()`).
 * The objects themselves appear as `iommufd.object.created` (type
 * `viommu` with `viommuType` and `iommu`, type `vdevice` with `virtId`);
 * a nested HWPT on a vIOMMU is `iommufd.hwpt.alloc` with `ptId` = the
 * vIOMMU, a vIOMMU invalidation `iommufd.hwpt.invalidate` with `hwptId` =
 * the vIOMMU. Part of `iommufdMessages`.
 */
import { Type } from "@sinclair/typebox";
import { command, event, type MessageDef } from "./message";
import { Bytes, ObjectId, U64, UInt } from "./schema";

const Ctx = UInt(31, "context id (one per open file), from 1");

/** The vIOMMU / vDEVICE messages, spread into `iommufdMessages`. */
export const iommufdViommuMessages = [
  command(
    "iommufd.viommu.alloc",
    Type.Object({
      ctx: Ctx,
      flags: UInt(32, "iommu_viommu_alloc.flags (must be 0)"),
      type: UInt(32, "enum iommu_viommu_type, or IOMMU_VIOMMU_TYPE_SELFTEST (0xdeadbeef)"),
      devId: UInt(32, "device object id: its IOMMU backs the vIOMMU"),
      hwptId: UInt(32, "NEST_PARENT paging HWPT object id: the vIOMMU's stage 2"),
      dataLen: UInt(32, "bytes of driver data at data_uptr (0: none)"),
      data: Type.Optional(
        Bytes(
          "the dataLen bytes copied from data_uptr; absent with dataLen > 0 when they could not be read (EFAULT)",
        ),
      ),
    }),
    "IOMMU_VIOMMU_ALLOC (viommu.c iommufd_viommu_alloc_ioctl)",
  ),
  event(
    "iommufd.viommu.data_returned",
    Type.Object({
      ctx: Ctx,
      id: ObjectId("the new vIOMMU's object id"),
      bytes: Bytes(
        "what the driver's viommu_init copies back to data_uptr (copy_struct_to_user), dataLen bytes",
      ),
    }),
    "the driver's answer in the vIOMMU data (the ioctl writes it to data_uptr); no state changes",
  ),
  command(
    "iommufd.vdevice.alloc",
    Type.Object({
      ctx: Ctx,
      viommuId: UInt(32, "vIOMMU object id"),
      devId: UInt(32, "device object id"),
      virtId: U64("the device's id as the guest sees it on the vIOMMU (vSID, vRID, vDeviceID)"),
    }),
    "IOMMU_VDEVICE_ALLOC (viommu.c iommufd_vdevice_alloc_ioctl)",
  ),
  event(
    "iommufd.mock_dev.cache_cleared",
    Type.Object({
      ctx: Ctx,
      id: ObjectId("the mock device's device object id"),
      ids: Type.Array(UInt(8), { description: "mock device cache entry ids set to 0, in order" }),
    }),
    "a vIOMMU invalidation cleared entries of a mock device's cache (selftest.c mock_viommu_cache_invalidate)",
  ),
] as const satisfies readonly MessageDef[];
