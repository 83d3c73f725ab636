/**
 * Opening a device through its group and closing any device file (Linux
 * drivers/vfio/group.c vfio_group_ioctl_get_device_fd → vfio_df_group_open,
 * drivers/vfio/vfio_main.c vfio_df_open / vfio_df_close, and
 * drivers/vfio/iommufd.c vfio_df_iommufd_bind /
 * vfio_iommufd_compat_attach_ioas).
 *
 * On the group path the group owns the device's binding (made by
 * VFIO_GROUP_SET_CONTAINER, group-binding.ts): a device file only refers
 * to it. A cdev file owns its own binding (VFIO_DEVICE_BIND_IOMMUFD) and
 * unbinds the device when it closes.
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import { decideDeviceUnbind, type RootEvolve } from "@iommu-sim/iommufd";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import { groupDevices } from "./devices";
import { openGroup } from "./group";
import { groupBindings, unbindGroup } from "./group-binding";
import type { Decided } from "./messages";
import type { VfioDeviceFile, VfioRoot } from "./state";

type Ctx = SubsystemDecideContext<VfioRoot>;

/** Whether file `f` counts in its device's open_count (a group-path file, or a bound cdev file). */
export function opensDevice(f: VfioDeviceFile): boolean {
  return f.group !== undefined || f.ctx !== undefined;
}

/** The files that opened device `name`, except file `except`. */
export function openersOf(root: VfioRoot, name: string, except = 0): VfioDeviceFile[] {
  const out: VfioDeviceFile[] = [];
  for (const k in root.vfio.files) {
    const f = root.vfio.files[k]!;
    if (f.device === name && f.id !== except && opensDevice(f)) out.push(f);
  }
  return out;
}

/**
 * `vfio.device.open {group, device}` (VFIO_GROUP_GET_DEVICE_FD after the
 * name was read). The device was bound and attached to the compat IOAS when
 * the group's container was set (group-binding.ts), so opening only makes
 * the file. Errors in Linux's order: EBADF group file not open; ENODEV no
 * device of that name in the group (vfio_device_get_from_name); ENOMEM at
 * `vfio.device_file_alloc`; EINVAL the group has no container
 * (vfio_group_has_iommu); ENOMEM at `vfio.anon_inode_getfile`. The group
 * path may open a device many times: every file shares the group's binding.
 * Event: `vfio.device.opened {file, device, group, ctx, devId}`.
 */
export function decideDeviceOpen(
  root: VfioRoot,
  c: { group: number; device: string },
  ctx: Ctx,
): Decided | Errno {
  const g = openGroup(root, c.group);
  if (isErrno(g)) return g;
  if (!groupDevices(root.iommufd, c.group).some((d) => d.name === c.device))
    return errno("ENODEV", `no device '${c.device}' in group ${c.group}`);
  const alloc = ctx.step("vfio.device_file_alloc", "ENOMEM");
  if (alloc) return alloc;
  if (g.ctx === undefined) return errno("EINVAL", `group ${c.group} has no container`);
  const binding = groupBindings(root, c.group).find((b) => b.device === c.device && b.ctx === g.ctx);
  const file = ctx.step("vfio.anon_inode_getfile", "ENOMEM");
  if (file) return file;
  return [
    {
      type: "vfio.device.opened",
      data: {
        file: root.vfio.nextFile,
        device: c.device,
        group: c.group,
        ...(binding === undefined ? {} : { ctx: binding.ctx, devId: binding.devId }),
      },
    },
  ];
}

/**
 * `vfio.device.close {file}` (vfio_device_fops_release → vfio_df_group_close
 * / vfio_df_unbind_iommufd). A bound cdev file unbinds its device
 * (`iommufd.device.unbind`: every attachment detached, auto domains left
 * unused destroyed, the device object gone). A group-path file leaves the
 * device bound — the group owns the binding — unless it is the last file
 * of a group whose file was closed earlier: then the group is released
 * with it, unbinding every device of the group (`unbindGroup`). Release
 * cannot fail: EBADF only for a file that is not open.
 * Events: [unbind…], `vfio.device.closed {file}`.
 */
export function decideDeviceClose(root: VfioRoot, file: number, evolve: RootEvolve): Decided | Errno {
  const f = root.vfio.files[file];
  if (f === undefined) return errno("EBADF", `device file ${file} is not open`);
  const events: Decided = [];
  if (f.group === undefined && f.ctx !== undefined && f.devId !== undefined) {
    const unbind = decideDeviceUnbind(root, { ctx: f.ctx, devId: f.devId }, evolve);
    if (isErrno(unbind)) throw new Error(`vfio: unbinding ${f.device} failed: ${unbind}`);
    events.push(...unbind);
  } else if (f.group !== undefined) {
    events.push(...releaseLingeringGroup(root, f, evolve));
  }
  events.push({ type: "vfio.device.closed", data: { file } });
  return events;
}

/**
 * The unbinding of a group whose file was closed while device files held it,
 * when `f` is the last of them (vfio_group_fops_release runs only then).
 */
function releaseLingeringGroup(root: VfioRoot, f: VfioDeviceFile, evolve: RootEvolve): Decided {
  const g = f.group === undefined ? undefined : root.vfio.groups[f.group];
  if (g === undefined || g.fileOpen || g.ctx === undefined) return [];
  for (const k in root.vfio.files) {
    const o = root.vfio.files[k]!;
    if (o.group === g.group && o.id !== f.id) return [];
  }
  return unbindGroup(root, g.group, g.ctx, evolve);
}
