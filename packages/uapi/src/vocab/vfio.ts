/**
 * Commands and events of the `vfio.` subsystem (@iommu-sim/vfio-compat):
 * VFIO group files (/dev/vfio/$GROUP, Linux drivers/vfio/group.c) and VFIO
 * device files — from VFIO_GROUP_GET_DEVICE_FD, or opened as the device's
 * cdev /dev/vfio/devices/vfioN (drivers/vfio/device_cdev.c) — on an
 * iommufd-backed container (CONFIG_IOMMUFD_VFIO_CONTAINER). The iommufd
 * side of their effects (device objects, attachments, the compat IOAS) are
 * iommufd's and iopt's events, emitted by the same command.
 * Owned by the package that implements it; see docs/CONVENTIONS.md ("Messages").
 */
import { Type } from "@sinclair/typebox";
import { command, event, type MessageDef } from "./message";
import { ObjectId, UInt } from "./schema";

const Group = UInt(31, "IOMMU group number (the N of /dev/vfio/N)");
const Ctx = UInt(31, "iommufd context id (an open /dev/iommu or /dev/vfio/vfio)");
const File = UInt(31, "VFIO device file id, from 1 (never reused)");
const Pasid = UInt(20, "PASID; absent = the RID (VFIO_DEVICE_ATTACH_PASID not set)");
const DeviceName = Type.String({
  pattern: "^[a-z][a-z0-9_-]{0,31}$",
  description: "a platform device's name (the PCI function behind an IOMMU unit)",
});

/** Every `vfio.` message definition. */
export const vfioMessages = [
  command(
    "vfio.group.open",
    Type.Object({ group: Group }),
    "open /dev/vfio/$GROUP (group.c vfio_group_fops_open): one open file per group",
  ),
  event("vfio.group.opened", Type.Object({ group: Group }), "a group file was opened"),
  command(
    "vfio.group.set_container",
    Type.Object({ group: Group, ctx: Ctx }),
    "VFIO_GROUP_SET_CONTAINER with an iommufd (group.c vfio_group_ioctl_set_container → vfio_compat.c iommufd_vfio_compat_ioas_create)",
  ),
  event(
    "vfio.group.container_set",
    Type.Object({ group: Group, ctx: Ctx }),
    "the group holds the iommufd context as its container",
  ),
  command(
    "vfio.group.unset_container",
    Type.Object({ group: Group }),
    "VFIO_GROUP_UNSET_CONTAINER (group.c vfio_group_ioctl_unset_container)",
  ),
  event("vfio.group.container_unset", Type.Object({ group: Group }), "the group let go of its container"),
  command(
    "vfio.group.close",
    Type.Object({ group: Group }),
    "the group file's last fd closes (group.c vfio_group_fops_release; deferred while device files hold it)",
  ),
  event(
    "vfio.group.closed",
    Type.Object({ group: Group }),
    "the group file was closed; the group goes (with its container) once no device file of it is open",
  ),
  command(
    "vfio.device.open",
    Type.Object({ group: Group, device: DeviceName }),
    "VFIO_GROUP_GET_DEVICE_FD (group.c vfio_group_ioctl_get_device_fd): the first open binds the device and attaches it to the compat IOAS",
  ),
  command(
    "vfio.cdev.open",
    Type.Object({ device: DeviceName }),
    "open /dev/vfio/devices/vfioN (device_cdev.c vfio_device_fops_cdev_open): an unbound device file",
  ),
  event(
    "vfio.device.opened",
    Type.Object({
      file: File,
      device: DeviceName,
      group: Type.Optional(UInt(31, "the group of a VFIO_GROUP_GET_DEVICE_FD file; absent for a cdev file")),
      ctx: Type.Optional(Ctx),
      devId: Type.Optional(ObjectId("the device object in ctx")),
    }),
    "a device file was opened (a group file's is bound to the group's iommufd from the start)",
  ),
  command(
    "vfio.cdev.bind",
    Type.Object({ file: File, ctx: Ctx }),
    "VFIO_DEVICE_BIND_IOMMUFD (device_cdev.c vfio_df_ioctl_bind_iommufd)",
  ),
  event(
    "vfio.device.bound",
    Type.Object({ file: File, ctx: Ctx, devId: ObjectId("the device object in ctx (out_devid)") }),
    "a cdev device file was bound to an iommufd context",
  ),
  command(
    "vfio.cdev.attach",
    Type.Object({ file: File, ptId: UInt(32, "IOAS or paging HWPT object id"), pasid: Type.Optional(Pasid) }),
    "VFIO_DEVICE_ATTACH_IOMMUFD_PT (device_cdev.c vfio_df_ioctl_attach_pt → iommufd.c vfio_iommufd_physical_(pasid_)attach_ioas)",
  ),
  command(
    "vfio.cdev.detach",
    Type.Object({ file: File, pasid: Type.Optional(Pasid) }),
    "VFIO_DEVICE_DETACH_IOMMUFD_PT (device_cdev.c vfio_df_ioctl_detach_pt)",
  ),
  command(
    "vfio.device.close",
    Type.Object({ file: File }),
    "a device file's last fd closes (vfio_main.c vfio_device_fops_release): the last open of the device unbinds it",
  ),
  event("vfio.device.closed", Type.Object({ file: File }), "a device file was closed"),
  command(
    "vfio.iommufd.release",
    Type.Object({ ctx: Ctx }),
    "the last fd of an iommufd file (/dev/iommu, /dev/vfio/vfio) closes: iommufd_fops_release now, or when the groups and device files holding the context let go",
  ),
  event(
    "vfio.iommufd.released",
    Type.Object({ ctx: Ctx }),
    "the context's file is gone but VFIO still holds it (group->iommufd, a bound device's ictx): it closes with its last holder",
  ),
] as const satisfies readonly MessageDef[];
