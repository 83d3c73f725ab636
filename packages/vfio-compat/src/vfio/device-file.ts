/**
 * Opening a device through its group and closing any device file (Linux
 * drivers/vfio/group.c vfio_group_ioctl_get_device_fd → vfio_df_group_open,
 * drivers/vfio/vfio_main.c vfio_df_open / vfio_df_close, and
 * drivers/vfio/iommufd.c vfio_df_iommufd_bind /
 * vfio_iommufd_compat_attach_ioas).
 *
 * A device's open_count is the number of its files that opened it: every
 * group-path file, and a cdev file once bound. The first open binds the
 * device to the iommufd (`iommufd.device.bind`) and — on the group path —
 * attaches it to the context's compat IOAS; the last close unbinds it
 * (`iommufd.device.unbind`: detach, then the device object goes).
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import {
  compatIoas,
  decideDeviceAttach,
  decideDeviceBind,
  decideDeviceUnbind,
  type RootEvolve,
} from "@iommu-sim/iommufd";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import { groupDevices } from "./devices";
import { openGroup } from "./group";
import type { Decided } from "./messages";
import { Sequence } from "./sequence";
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
 * The first open of `device` on context `ctxId` (vfio_df_device_first_open
 * then vfio_iommufd_compat_attach_ioas): bind, then attach to the compat
 * IOAS (ENODEV when the context has none any more — IOMMU_DESTROY'd or
 * cleared). @returns the device object id.
 */
function bindAndAttach(seq: Sequence, ctxId: number, device: string, ctx: Ctx): number | Errno {
  const bound = decideDeviceBind(seq.root, { ctx: ctxId, device }, { step: ctx.step, root: seq.root });
  const e = seq.add(bound);
  if (e) return e;
  const devId = ((bound as Decided)[0]!.data as { id: number }).id;
  const ioasId = compatIoas(seq.root, ctxId);
  if (isErrno(ioasId)) return ioasId;
  const attach = decideDeviceAttach(
    seq.root,
    { ctx: ctxId, devId, ptId: ioasId },
    { step: ctx.step, root: seq.root },
    seq.evolve,
  );
  return seq.add(attach) ?? devId;
}

/**
 * `vfio.device.open {group, device}` (VFIO_GROUP_GET_DEVICE_FD after the
 * name was read). Errors in Linux's order: EBADF group file not open;
 * ENODEV no device of that name in the group (vfio_device_get_from_name);
 * ENOMEM at `vfio.device_file_alloc`; EINVAL the group has no container
 * (vfio_group_has_iommu); on the device's first open, iommufd's bind
 * errors — EPERM when another context owns the group's DMA (a device of
 * the group bound elsewhere: the group is not viable) — then ENODEV
 * without a compat IOAS and the attach's errors; ENOMEM at
 * `vfio.anon_inode_getfile`. A later open of an open device only adds a
 * file on the same binding (the group path may open a device many times).
 * Events: [bind, attach…], `vfio.device.opened {file, device, group, ctx, devId}`.
 */
export function decideDeviceOpen(
  root: VfioRoot,
  c: { group: number; device: string },
  ctx: Ctx,
  evolve: RootEvolve,
): Decided | Errno {
  const g = openGroup(root, c.group);
  if (isErrno(g)) return g;
  if (!groupDevices(root.iommufd, c.group).some((d) => d.name === c.device))
    return errno("ENODEV", `no device '${c.device}' in group ${c.group}`);
  const alloc = ctx.step("vfio.device_file_alloc", "ENOMEM");
  if (alloc) return alloc;
  if (g.ctx === undefined) return errno("EINVAL", `group ${c.group} has no container`);
  const seq = new Sequence(root, evolve);
  const others = openersOf(root, c.device);
  let binding: { ctx?: number; devId?: number } = others[0] ?? {};
  if (others.length === 0) {
    const devId = bindAndAttach(seq, g.ctx, c.device, ctx);
    if (isErrno(devId)) return devId;
    binding = { ctx: g.ctx, devId };
  }
  const file = ctx.step("vfio.anon_inode_getfile", "ENOMEM");
  if (file) return file;
  seq.events.push({
    type: "vfio.device.opened",
    data: {
      file: root.vfio.nextFile,
      device: c.device,
      group: c.group,
      ...(binding.ctx === undefined ? {} : { ctx: binding.ctx }),
      ...(binding.devId === undefined ? {} : { devId: binding.devId }),
    },
  });
  return seq.events;
}

/**
 * `vfio.device.close {file}` (vfio_device_fops_release → vfio_df_group_close
 * / vfio_df_unbind_iommufd): the last file that opened the device unbinds
 * it (`iommufd.device.unbind`: every attachment detached, auto domains
 * left unused destroyed, the device object gone). A group file closed
 * earlier goes with the last device file of its group. Release cannot
 * fail: EBADF only for a file that is not open.
 */
export function decideDeviceClose(root: VfioRoot, file: number, evolve: RootEvolve): Decided | Errno {
  const f = root.vfio.files[file];
  if (f === undefined) return errno("EBADF", `device file ${file} is not open`);
  const events: Decided = [];
  const last = opensDevice(f) && openersOf(root, f.device, f.id).length === 0;
  if (last && f.ctx !== undefined && f.devId !== undefined) {
    const unbind = decideDeviceUnbind(root, { ctx: f.ctx, devId: f.devId }, evolve);
    if (isErrno(unbind)) throw new Error(`vfio: unbinding ${f.device} failed: ${unbind}`);
    events.push(...unbind);
  }
  events.push({ type: "vfio.device.closed", data: { file } });
  return events;
}
