/**
 * Commands and events of the `iommufd.` subsystem (Linux
 * drivers/iommu/iommufd/main.c): contexts (one per open of /dev/iommu or
 * /dev/vfio/vfio), the per-context object table, IOMMU_DESTROY and
 * IOMMU_OPTION. Object ids are the per-context ids userspace sees.
 */
import { Type } from "@sinclair/typebox";
import { iommufdAccessMessages } from "./iommufd-access";
import { iommufdFaultMessages } from "./iommufd-fault";
import { iommufdHwQueueMessages } from "./iommufd-hw-queue";
import { iommufdNestedMessages } from "./iommufd-nested";
import { iommufdPasidMessages } from "./iommufd-pasid";
import { iommufdVeventqMessages } from "./iommufd-veventq";
import { iommufdViommuMessages } from "./iommufd-viommu";
import { command, event, type MessageDef } from "./message";
import { Bytes, ObjectId, U64, UInt } from "./schema";

const Ctx = UInt(31, "context id (one per open file), from 1");
const Pasid = UInt(20, "PASID; absent or 0 = the RID (requests without PASID, IOMMU_NO_PASID)");
const DeviceName = Type.String({
  pattern: "^[a-z][a-z0-9_-]{0,31}$",
  description: "a platform device's name (the PCI function behind an IOMMU unit)",
});

/** Every `iommufd.` message definition. */
export const iommufdMessages = [
  command(
    "iommufd.open",
    Type.Object({
      pid: UInt(31, "opening process"),
      vfio: Type.Boolean({ description: "opened as /dev/vfio/vfio" }),
    }),
    "open /dev/iommu (or /dev/vfio/vfio): a new context (iommufd_fops_open)",
  ),
  event(
    "iommufd.opened",
    Type.Object({
      ctx: Ctx,
      pid: UInt(31),
      accountMode: Type.Union([Type.Literal("user"), Type.Literal("mm")]),
    }),
    "a context was created; /dev/vfio/vfio contexts account pinned pages per mm, like VFIO",
  ),
  command(
    "iommufd.close",
    Type.Object({ ctx: Ctx }),
    "release the last fd of a context (iommufd_fops_release)",
  ),
  event("iommufd.closed", Type.Object({ ctx: Ctx }), "a context and everything left in it are gone"),
  command("iommufd.destroy", Type.Object({ ctx: Ctx, id: UInt(32) }), "IOMMU_DESTROY (iommufd_destroy)"),
  event(
    "iommufd.object.tombstoned",
    Type.Object({ ctx: Ctx, id: ObjectId(), type: Type.String() }),
    "an object was destroyed from under userspace (a vDEVICE whose device went, iommufd_object_tombstone_user): its id stays taken until the context closes",
  ),
  event(
    "iommufd.object.destroyed",
    Type.Object({ ctx: Ctx, id: ObjectId(), type: Type.String() }),
    "an object left the context's table (destroyed by IOMMU_DESTROY or by close, leaf first)",
  ),
  command(
    "iommufd.option.set",
    Type.Object({ ctx: Ctx, option: UInt(32), objectId: UInt(32), value: U64() }),
    "IOMMU_OPTION with IOMMU_OPTION_OP_SET (iommufd_option)",
  ),
  event(
    "iommufd.accountMode.set",
    Type.Object({ ctx: Ctx, accountMode: Type.Union([Type.Literal("user"), Type.Literal("mm")]) }),
    "IOMMU_OPTION_RLIMIT_MODE changed how the context accounts pinned pages",
  ),
  command(
    "iommufd.ioas.alloc",
    Type.Object({ ctx: Ctx }),
    "IOMMU_IOAS_ALLOC (ioas.c iommufd_ioas_alloc_ioctl)",
  ),
  event(
    "iommufd.object.created",
    Type.Object({
      ctx: Ctx,
      id: ObjectId(),
      type: Type.String({ description: "enum iommufd_object_type, lower case: ioas, hwpt_paging, device…" }),
      kobj: Type.Optional(UInt(31, "global id of the kernel object behind it (IOAS, domain, access)")),
      refs: Type.Array(ObjectId(), { description: "objects this one holds a users reference on" }),
      external: Type.Optional(UInt(8, "users held by a driver (a bound device)")),
      autoDomain: Type.Optional(Type.Boolean({ description: "HWPT allocated by auto-domain attach" })),
      flags: Type.Optional(UInt(32, "HWPT alloc flags, or a mock device's MOCK_FLAGS_DEVICE_*")),
      device: Type.Optional(DeviceName),
      viommuType: Type.Optional(UInt(32, "a vIOMMU's enum iommu_viommu_type (IOMMU_VIOMMU_TYPE_SELFTEST…)")),
      iommu: Type.Optional(
        Type.String({
          pattern: "^(mock|vtd:\\d+|smmu:\\d+)$",
          description: "a vIOMMU's IOMMU instance (viommu->iommu_dev): mock, vtd:<unit> or smmu:<instance>",
        }),
      ),
      virtId: Type.Optional(U64("a vDEVICE's virt_id: the device's id on its vIOMMU as the guest sees it")),
      veventqType: Type.Optional(
        UInt(32, "a vEVENTQ's enum iommu_veventq_type (IOMMU_VEVENTQ_TYPE_SELFTEST…)"),
      ),
      depth: Type.Optional(UInt(32, "a vEVENTQ's veventq_depth: events it holds before it loses them")),
      queueType: Type.Optional(
        UInt(32, "a HW queue's enum iommu_hw_queue_type (IOMMU_HW_QUEUE_TYPE_SELFTEST…)"),
      ),
      queueIndex: Type.Optional(UInt(32, "a HW queue's logical index on its vIOMMU")),
      iova: Type.Optional(U64("a HW queue's nesting_parent_iova (bytes)")),
      length: Type.Optional(U64("a HW queue's length (bytes)")),
    }),
    "an object appeared in the context's table (iommufd_object_finalize)",
  ),
  event(
    "iommufd.object.refs.set",
    Type.Object({ ctx: Ctx, id: ObjectId(), refs: Type.Array(ObjectId()) }),
    "an object now uses these objects (a device attached to or detached from a HWPT)",
  ),
  command(
    "iommufd.selftest.mock_domain",
    Type.Object({
      ctx: Ctx,
      ptId: UInt(32, "IOAS or HWPT object id"),
      flags: UInt(32, "MOCK_FLAGS_DEVICE_*"),
    }),
    "IOMMU_TEST_OP_MOCK_DOMAIN(_FLAGS): a mock device, bound and attached (selftest.c iommufd_test_mock_domain)",
  ),
  command(
    "iommufd.selftest.mock_domain_replace",
    Type.Object({ ctx: Ctx, stdevId: UInt(32), ptId: UInt(32, "IOAS or HWPT object id") }),
    "IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE: move a mock device to another IOAS/HWPT (iommufd_device_replace)",
  ),
  ...iommufdAccessMessages,
  ...iommufdPasidMessages,
  command(
    "iommufd.hwpt.alloc",
    Type.Object({
      ctx: Ctx,
      devId: UInt(32),
      ptId: UInt(32, "IOAS (paging), paging HWPT or vIOMMU (nested) object id"),
      flags: UInt(32, "IOMMU_HWPT_ALLOC_*"),
      dataType: UInt(32, "enum iommu_hwpt_data_type"),
      dataLen: UInt(32, "bytes of driver data"),
      data: Type.Optional(
        Bytes(
          "the dataLen bytes copied from data_uptr; absent with dataLen > 0 when they could not be read (EFAULT)",
        ),
      ),
      faultId: Type.Optional(UInt(32, "fault object id, with IOMMU_HWPT_FAULT_ID_VALID")),
    }),
    "IOMMU_HWPT_ALLOC (hw_pagetable.c iommufd_hwpt_alloc)",
  ),
  ...iommufdFaultMessages,
  ...iommufdNestedMessages,
  ...iommufdViommuMessages,
  ...iommufdVeventqMessages,
  ...iommufdHwQueueMessages,
  command(
    "iommufd.vfio_ioas.set",
    Type.Object({ ctx: Ctx, ioasId: UInt(32, "IOAS object id; 0 clears") }),
    "IOMMU_VFIO_IOAS SET/CLEAR: choose the IOAS the VFIO compat ioctls use (vfio_compat.c iommufd_vfio_ioas)",
  ),
  event(
    "iommufd.vfioIoas.set",
    Type.Object({ ctx: Ctx, ioasId: UInt(32, "0 = none") }),
    "the context's compat IOAS changed",
  ),
  command(
    "iommufd.device.bind",
    Type.Object({ ctx: Ctx, device: DeviceName }),
    "VFIO_DEVICE_BIND_IOMMUFD (device.c iommufd_device_bind): a device object, held by its VFIO driver",
  ),
  command(
    "iommufd.device.unbind",
    Type.Object({ ctx: Ctx, devId: UInt(32, "device object id") }),
    "the VFIO device file closes (device.c iommufd_device_unbind): detach, then the device object goes",
  ),
  command(
    "iommufd.device.attach",
    Type.Object({
      ctx: Ctx,
      devId: UInt(32, "device object id"),
      ptId: UInt(32, "IOAS, paging HWPT or nested HWPT object id"),
      pasid: Type.Optional(Pasid),
    }),
    "VFIO_DEVICE_ATTACH_IOMMUFD_PT (device.c iommufd_device_attach): an IOAS → its auto domain, or a paging HWPT",
  ),
  command(
    "iommufd.device.replace",
    Type.Object({
      ctx: Ctx,
      devId: UInt(32, "device object id"),
      ptId: UInt(32, "IOAS, paging HWPT or nested HWPT object id"),
      pasid: Type.Optional(Pasid),
    }),
    "iommufd_device_replace (what VFIO_DEVICE_ATTACH_IOMMUFD_PT does on an attached device): move it in one step",
  ),
  command(
    "iommufd.device.detach",
    Type.Object({ ctx: Ctx, devId: UInt(32, "device object id"), pasid: Type.Optional(Pasid) }),
    "VFIO_DEVICE_DETACH_IOMMUFD_PT (device.c iommufd_device_detach); a device not attached is left alone",
  ),
  event(
    "iommufd.device.attachment.set",
    Type.Object({
      ctx: Ctx,
      id: ObjectId(),
      pasid: UInt(20, "0 = the RID"),
      hwpt: UInt(32, "HWPT object id; 0 = detached"),
    }),
    "a platform device's attachment at one PASID (or its RID) changed",
  ),
  event(
    "iommufd.hw_domain.bound",
    Type.Object({
      kobj: UInt(31, "global id of the domain (the HWPT's kobj, iopt's domain id)"),
      driver: Type.Union([Type.Literal("vtd"), Type.Literal("smmu")]),
      unit: UInt(16, "VT-d unit / SMMU instance number"),
      domain: UInt(32, "the hardware package's domain handle: VT-d DID, SMMU domain id"),
    }),
    "a paging domain of a hardware driver now stands behind global domain id kobj",
  ),
  event(
    "iommufd.hw_domain.unbound",
    Type.Object({ kobj: UInt(31) }),
    "the hardware domain behind kobj was freed",
  ),
] as const satisfies readonly MessageDef[];
