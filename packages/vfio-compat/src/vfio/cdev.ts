/**
 * The device cdev path, /dev/vfio/devices/vfioN (Linux
 * drivers/vfio/device_cdev.c: vfio_device_fops_cdev_open,
 * vfio_df_ioctl_bind_iommufd, vfio_df_ioctl_attach_pt,
 * vfio_df_ioctl_detach_pt; drivers/vfio/iommufd.c
 * vfio_iommufd_physical_(pasid_)attach_ioas / _detach_ioas).
 *
 * A cdev file starts unbound: every ioctl but BIND_IOMMUFD is EINVAL until
 * it binds to an iommufd context; the user then attaches it to an IOAS or
 * a HWPT of its choice (no compat IOAS on this path). The group and cdev
 * paths exclude each other per group (vfio_device_block_group).
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import {
  decideDeviceAttach,
  decideDeviceBind,
  decideDeviceDetach,
  decideDeviceReplace,
  type RootEvolve,
} from "@iommu-sim/iommufd";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import { openersOf } from "./device-file";
import { vfioDevice } from "./devices";
import type { Decided } from "./messages";
import type { VfioDeviceFile, VfioRoot } from "./state";

type Ctx = SubsystemDecideContext<VfioRoot>;

/**
 * `vfio.cdev.open {device}` (vfio_device_fops_cdev_open): ENODEV no such
 * VFIO device; ENOMEM at `vfio.device_file_alloc`. Opening never conflicts
 * with the group path — binding does.
 * Event: `vfio.device.opened {file, device}`.
 */
export function decideCdevOpen(root: VfioRoot, device: string, ctx: Ctx): Decided | Errno {
  if (vfioDevice(root.iommufd, device) === undefined) return errno("ENODEV", `no VFIO device '${device}'`);
  const fail = ctx.step("vfio.device_file_alloc", "ENOMEM");
  if (fail) return fail;
  return [{ type: "vfio.device.opened", data: { file: root.vfio.nextFile, device } }];
}

/**
 * The checks of VFIO_DEVICE_BIND_IOMMUFD made before the iommufd fd is
 * looked at, in Linux's order: EBADF no such file; EINVAL a group-path
 * file ("BIND_IOMMUFD only allowed for cdev fds"); EBUSY the device's group
 * file is open (vfio_device_block_group); EINVAL bound already ("one device
 * cannot be bound twice").
 */
export function cdevBindCheck(root: VfioRoot, file: number): VfioDeviceFile | Errno {
  const f = root.vfio.files[file];
  if (f === undefined) return errno("EBADF", `device file ${file} is not open`);
  if (f.group !== undefined) return errno("EINVAL", "BIND_IOMMUFD is for cdev files only");
  const group = vfioDevice(root.iommufd, f.device)?.group;
  if (group !== undefined && root.vfio.groups[group] !== undefined)
    return errno("EBUSY", `group ${group} of '${f.device}' is open`);
  if (f.ctx !== undefined) return errno("EINVAL", "the file is bound already");
  return f;
}

/**
 * `vfio.cdev.bind {file, ctx}`: `cdevBindCheck`'s errors; EBADF context not
 * open; EINVAL the device is open through another file (vfio_df_open: the
 * cdev path cannot share a device); iommufd's bind errors (EPERM: another
 * context owns the group's DMA; ENOMEM at `iommufd.device_bind`).
 * Events: iommufd's `object.created {type: "device"}`, `vfio.device.bound`.
 */
export function decideCdevBind(root: VfioRoot, c: { file: number; ctx: number }, ctx: Ctx): Decided | Errno {
  const f = cdevBindCheck(root, c.file);
  if (isErrno(f)) return f;
  if (root.iommufd.contexts[c.ctx] === undefined) return errno("EBADF", `context ${c.ctx} is not open`);
  if (openersOf(root, f.device, f.id).length > 0)
    return errno("EINVAL", `'${f.device}' is open through another file`);
  const bound = decideDeviceBind(root, { ctx: c.ctx, device: f.device }, ctx);
  if (isErrno(bound)) return bound;
  const devId = (bound[0]!.data as { id: number }).id;
  return [...bound, { type: "vfio.device.bound", data: { file: c.file, ctx: c.ctx, devId } }];
}

/** A bound cdev file, or EBADF (not open) / EINVAL (a group-path file, or not bound yet). */
export function boundCdev(root: VfioRoot, file: number): Required<Omit<VfioDeviceFile, "group">> | Errno {
  const f = root.vfio.files[file];
  if (f === undefined) return errno("EBADF", `device file ${file} is not open`);
  if (f.group !== undefined) return errno("EINVAL", "a group-path device file has no iommufd ioctls");
  if (f.ctx === undefined || f.devId === undefined) return errno("EINVAL", "the device file is not bound");
  return { id: f.id, device: f.device, ctx: f.ctx, devId: f.devId };
}

/**
 * `vfio.cdev.attach {file, ptId, pasid?}` (vfio_iommufd_physical_attach_ioas,
 * or the _pasid_ variant with `pasid`): attach the RID (or PASID) to IOAS /
 * paging HWPT `ptId` — `iommufd.device.replace` when something is attached
 * there already, else `iommufd.device.attach`. Errors: `boundCdev`'s, then
 * iommufd's (ENOENT no object, EINVAL wrong type / other IOMMU / PASID
 * width or compatibility, EADDRINUSE reserved regions, ENOMEM…).
 */
export function decideCdevAttach(
  root: VfioRoot,
  c: { file: number; ptId: number; pasid?: number },
  ctx: Ctx,
  evolve: RootEvolve,
): Decided | Errno {
  const f = boundCdev(root, c.file);
  if (isErrno(f)) return f;
  const idev = root.iommufd.contexts[f.ctx]?.objects[f.devId];
  const pasid = c.pasid ?? 0;
  const cmd = { ctx: f.ctx, devId: f.devId, ptId: c.ptId, ...(c.pasid === undefined ? {} : { pasid }) };
  const attached = idev?.attachments?.some((a) => a.pasid === pasid) === true;
  return attached ? decideDeviceReplace(root, cmd, ctx, evolve) : decideDeviceAttach(root, cmd, ctx, evolve);
}

/**
 * `vfio.cdev.detach {file, pasid?}` (vfio_iommufd_physical_(pasid_)detach_ioas):
 * `boundCdev`'s errors; nothing attached there → no events (Linux returns
 * 0 quietly).
 */
export function decideCdevDetach(
  root: VfioRoot,
  c: { file: number; pasid?: number },
  evolve: RootEvolve,
): Decided | Errno {
  const f = boundCdev(root, c.file);
  if (isErrno(f)) return f;
  const cmd = { ctx: f.ctx, devId: f.devId, ...(c.pasid === undefined ? {} : { pasid: c.pasid }) };
  return decideDeviceDetach(root, cmd, evolve);
}
