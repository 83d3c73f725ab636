/**
 * A group's devices bound to its container — the semantics for
 * VFIO_GROUP_SET_CONTAINER on an iommufd container: the group, not its
 * device files, owns the bindings. SET_CONTAINER binds every device of the
 * group to the container's context and attaches each to the compat IOAS
 * (drivers/vfio/iommufd.c vfio_iommufd_physical_bind +
 * vfio_iommufd_compat_attach_ioas, done for the whole group as the legacy
 * drivers/vfio/container.c vfio_container_attach_group claims the whole
 * group's DMA with iommu_group_claim_dma_owner); UNSET_CONTAINER and the
 * group's release detach and unbind them all again.
 *
 * (Linux with iommufd binds a device only when its fd is opened; see the
 * package README, "Deviation from Linux".)
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
import type { Decided } from "./messages";
import { Sequence } from "./sequence";
import type { VfioRoot } from "./state";

type Ctx = SubsystemDecideContext<VfioRoot>;

/** A device of a group bound to an iommufd context: its device object `devId` in context `ctx`. */
export interface GroupBinding {
  readonly device: string;
  readonly ctx: number;
  readonly devId: number;
}

/**
 * The devices of IOMMU group `group` bound to some iommufd context (by any
 * path: a group's container, a cdev, iommufd's own bind), in platform
 * order. Non-empty means the group's DMA owner is claimed
 * (iommu_group_dma_owner_claimed()).
 */
export function groupBindings(root: VfioRoot, group: number): GroupBinding[] {
  const out: GroupBinding[] = [];
  for (const d of groupDevices(root.iommufd, group)) {
    for (const k in root.iommufd.contexts) {
      const c = root.iommufd.contexts[k]!;
      for (const o in c.objects) {
        const obj = c.objects[o]!;
        if (obj.device === d.name) out.push({ device: d.name, ctx: c.id, devId: obj.id });
      }
    }
  }
  return out;
}

/**
 * Whether group `group` may be claimed by a container: no device of it is
 * bound anywhere. Else EPERM, as iommu_group_claim_dma_owner() answers
 * when group->owner_cnt is non-zero (drivers/iommu/iommu.c), which
 * vfio_container_attach_group() passes up.
 */
export function checkViable(root: VfioRoot, group: number): Errno | undefined {
  const bound = groupBindings(root, group)[0];
  if (bound === undefined) return undefined;
  return errno("EPERM", `group ${group} is not viable: '${bound.device}' is bound to context ${bound.ctx}`);
}

/**
 * Bind every device of `group` to context `ctxId` and attach each to the
 * context's compat IOAS (its auto domain, found or made per IOMMU unit),
 * one after the other on `seq`. Errors: iommufd's bind (ENOMEM at
 * `iommufd.device_bind`, …), ENODEV without a compat IOAS, the attach's
 * (EADDRINUSE a reserved region is mapped, ENOMEM at the domain's and
 * the pinning's fault points or over RLIMIT_MEMLOCK, …). The caller
 * discards `seq` on error, so nothing is left bound.
 */
export function bindGroup(seq: Sequence, ctxId: number, group: number, ctx: Ctx): Errno | undefined {
  for (const d of groupDevices(seq.root.iommufd, group)) {
    const bound = decideDeviceBind(
      seq.root,
      { ctx: ctxId, device: d.name },
      { step: ctx.step, root: seq.root },
    );
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
    const a = seq.add(attach);
    if (a) return a;
  }
  return undefined;
}

/**
 * Detach and unbind every device of `group` bound to context `ctxId`
 * (`iommufd.device.unbind` each: attachments detached, auto domains left
 * without users destroyed, the device object gone). Cannot fail: the
 * bindings are looked up in the state they are unbound from.
 */
export function unbindGroup(root: VfioRoot, group: number, ctxId: number, evolve: RootEvolve): Decided {
  const seq = new Sequence(root, evolve);
  for (const b of groupBindings(root, group)) {
    if (b.ctx !== ctxId) continue;
    const e = seq.add(decideDeviceUnbind(seq.root, { ctx: ctxId, devId: b.devId }, evolve));
    if (e) throw new Error(`vfio: unbinding ${b.device} failed: ${e}`);
  }
  return seq.events;
}
