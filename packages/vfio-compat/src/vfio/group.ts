/**
 * VFIO group files on an iommufd container (Linux drivers/vfio/group.c:
 * vfio_group_fops_open / _release, vfio_group_ioctl_set_container /
 * _unset_container; drivers/iommu/iommufd/vfio_compat.c
 * iommufd_vfio_compat_ioas_create).
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import { decideIoasAlloc, decideVfioIoasSet, type RootEvolve } from "@iommu-sim/iommufd";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import { groupDevices } from "./devices";
import type { Decided } from "./messages";
import { Sequence } from "./sequence";
import type { VfioGroupFile, VfioRoot } from "./state";

type Ctx = SubsystemDecideContext<VfioRoot>;

/** The open group file of `group`, or EBADF (the caller has no such file). */
export function openGroup(root: VfioRoot, group: number): VfioGroupFile | Errno {
  const g = root.vfio.groups[group];
  return g?.fileOpen === true ? g : errno("EBADF", `group ${group} is not open`);
}

/** Whether a device of `group` is bound through its cdev (group->cdev_device_open_cnt > 0). */
export function cdevBoundInGroup(root: VfioRoot, group: number): boolean {
  const names = new Set(groupDevices(root.iommufd, group).map((d) => d.name));
  for (const k in root.vfio.files) {
    const f = root.vfio.files[k]!;
    if (f.group === undefined && f.ctx !== undefined && names.has(f.device)) return true;
  }
  return false;
}

/**
 * `vfio.group.open {group}` (vfio_group_fops_open). ENOENT no VFIO device
 * is in that IOMMU group (no /dev/vfio/$group node); EBUSY the group is
 * open already ("Do we need multiple instances of the group open? Seems
 * not.") — also while device files keep a closed group file alive — or a
 * device of the group is bound through its cdev (cdev_device_open_cnt).
 */
export function decideGroupOpen(root: VfioRoot, group: number): Decided | Errno {
  if (groupDevices(root.iommufd, group).length === 0) return errno("ENOENT", `no /dev/vfio/${group}`);
  if (root.vfio.groups[group] !== undefined) return errno("EBUSY", `group ${group} is open already`);
  if (cdevBoundInGroup(root, group))
    return errno("EBUSY", `a device of group ${group} is bound through its cdev`);
  return [{ type: "vfio.group.opened", data: { group } }];
}

/**
 * iommufd_vfio_compat_ioas_create(): make sure context `ctx` has a compat
 * IOAS. Like Linux it allocates a new IOAS first (fault points
 * `iommufd.object_alloc` and iopt's) and, when the context already has
 * one, drops it again (iommufd_object_abort_and_destroy) — so the existing
 * compat IOAS is kept and nothing is emitted. The new IOAS is an ordinary
 * object: IOMMU_VFIO_IOAS GET answers it, close destroys it.
 */
function compatIoasCreate(seq: Sequence, ctxId: number, ctx: Ctx): Errno | undefined {
  const alloc = decideIoasAlloc(seq.root, ctxId, { step: ctx.step, root: seq.root });
  if (isErrno(alloc)) return alloc;
  if (seq.root.iommufd.contexts[ctxId]!.vfioIoas !== undefined) return undefined;
  const created = alloc.find((e) => e.type === "iommufd.object.created")!.data as { id: number };
  return seq.add(alloc) ?? seq.add(decideVfioIoasSet(seq.root, ctxId, created.id));
}

/**
 * `vfio.group.set_container {group, ctx}` (vfio_group_ioctl_set_container
 * with an iommufd file). EBADF group file or context not open; EINVAL the
 * group has a container already; then the compat IOAS is created if the
 * context has none (ENOMEM at its fault points). The group holds the
 * context from now on. Devices are bound only when their file is opened
 * (VFIO_GROUP_GET_DEVICE_FD), as Linux does on iommufd — so no DMA
 * ownership is claimed here and viability is not checked.
 */
export function decideSetContainer(
  root: VfioRoot,
  c: { group: number; ctx: number },
  ctx: Ctx,
  evolve: RootEvolve,
): Decided | Errno {
  const g = openGroup(root, c.group);
  if (isErrno(g)) return g;
  if (g.ctx !== undefined) return errno("EINVAL", `group ${c.group} has a container already`);
  if (root.iommufd.contexts[c.ctx] === undefined) return errno("EBADF", `context ${c.ctx} is not open`);
  const seq = new Sequence(root, evolve);
  const e = compatIoasCreate(seq, c.ctx, ctx);
  if (e) return e;
  seq.events.push({ type: "vfio.group.container_set", data: { group: c.group, ctx: c.ctx } });
  return seq.events;
}

/**
 * `vfio.group.unset_container {group}` (vfio_group_ioctl_unset_container):
 * EBADF group file not open; EINVAL no container. With iommufd the group
 * only lets go of the context: devices opened meanwhile stay bound and
 * attached (their device objects hold the context), as in Linux.
 */
export function decideUnsetContainer(root: VfioRoot, group: number): Decided | Errno {
  const g = openGroup(root, group);
  if (isErrno(g)) return g;
  if (g.ctx === undefined) return errno("EINVAL", `group ${group} has no container`);
  return [{ type: "vfio.group.container_unset", data: { group } }];
}

/**
 * `vfio.group.close {group}` (vfio_group_fops_release): the group lets go
 * of its container and the node can be opened again — at once, or, while
 * device files of the group are open (they hold the group file), when the
 * last of them closes. Cannot fail but for EBADF (not open).
 */
export function decideGroupClose(root: VfioRoot, group: number): Decided | Errno {
  const g = openGroup(root, group);
  if (isErrno(g)) return g;
  return [{ type: "vfio.group.closed", data: { group } }];
}
