/**
 * VFIO group files on an iommufd container (Linux drivers/vfio/group.c:
 * vfio_group_fops_open / _release, vfio_group_ioctl_set_container /
 * _unset_container; drivers/iommu/iommufd/vfio_compat.c
 * iommufd_vfio_compat_ioas_create), with the group owning its devices'
 * bindings from SET_CONTAINER to UNSET_CONTAINER / release (group-binding.ts).
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import { decideIoasAlloc, decideVfioIoasSet, type RootEvolve } from "@iommu-sim/iommufd";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import { groupDevices } from "./devices";
import { bindGroup, checkViable, unbindGroup } from "./group-binding";
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

/** Whether a device file of `group` is open (struct vfio_group's container_users beyond the group's own). */
export function groupHasDeviceFiles(root: VfioRoot, group: number): boolean {
  for (const k in root.vfio.files) if (root.vfio.files[k]!.group === group) return true;
  return false;
}

/**
 * `vfio.group.set_container {group, ctx}` (vfio_group_ioctl_set_container
 * with an iommufd file, with the issue's semantics — see group-binding.ts).
 * Errors in order: EBADF group file or context not open; EINVAL the group
 * has a container already; EPERM the group is not viable (a device of it is
 * bound to some context already, through its cdev or iommufd's own bind:
 * iommu_group_claim_dma_owner); then the compat IOAS is created if the
 * context has none (ENOMEM at its fault points); then every device of the
 * group is bound to the context and attached to the compat IOAS
 * (`bindGroup`'s errors). All or nothing: a failure part-way leaves no
 * IOAS, binding or attachment. The group holds the context from now on.
 * Events: [IOAS created…], per device [bind, attach…],
 * `vfio.group.container_set {group, ctx}`.
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
  const viable = checkViable(root, c.group);
  if (viable) return viable;
  const seq = new Sequence(root, evolve);
  const e = compatIoasCreate(seq, c.ctx, ctx) ?? bindGroup(seq, c.ctx, c.group, ctx);
  if (e) return e;
  seq.events.push({ type: "vfio.group.container_set", data: { group: c.group, ctx: c.ctx } });
  return seq.events;
}

/**
 * `vfio.group.unset_container {group}` (vfio_group_ioctl_unset_container):
 * EBADF group file not open; EINVAL no container; EBUSY while a device file
 * of the group is open (the legacy container's `container_users != 1`
 * check — Linux's iommufd path has none, the issue's semantics need it:
 * the group owns its devices' bindings). Then every device of the group is
 * detached and unbound (`unbindGroup`) and the group lets go of the
 * context (the subsystem closes a released context it was the last
 * holder of). Events: [unbind…], `vfio.group.container_unset {group}`.
 */
export function decideUnsetContainer(root: VfioRoot, group: number, evolve: RootEvolve): Decided | Errno {
  const g = openGroup(root, group);
  if (isErrno(g)) return g;
  if (g.ctx === undefined) return errno("EINVAL", `group ${group} has no container`);
  if (groupHasDeviceFiles(root, group)) return errno("EBUSY", `device files of group ${group} are open`);
  return [
    ...unbindGroup(root, group, g.ctx, evolve),
    { type: "vfio.group.container_unset", data: { group } },
  ];
}

/**
 * `vfio.group.close {group}` (vfio_group_fops_release): the node can be
 * opened again and the group lets go of its container — unbinding its
 * devices first — at once, or, while device files of the group are open
 * (they hold the group file), when the last of them closes
 * (`decideDeviceClose`). Cannot fail but for EBADF (not open).
 * Events: [unbind…], `vfio.group.closed {group}`.
 */
export function decideGroupClose(root: VfioRoot, group: number, evolve: RootEvolve): Decided | Errno {
  const g = openGroup(root, group);
  if (isErrno(g)) return g;
  const closed = { type: "vfio.group.closed", data: { group } };
  if (g.ctx === undefined || groupHasDeviceFiles(root, group)) return [closed];
  return [...unbindGroup(root, group, g.ctx, evolve), closed];
}
