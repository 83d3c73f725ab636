/**
 * Binding a platform device to a context (Linux device.c
 * iommufd_device_bind(), what VFIO_DEVICE_BIND_IOMMUFD calls): a `device`
 * object, held by its VFIO driver (one external user) until unbind.
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import { deviceInfo } from "./devices";
import type { HwRoot } from "./drivers/driver";
import { allocObjectId, getContext } from "./objects";
import type { IommufdRoot } from "./root";
import type { IommufdState } from "./state";

type Decided = { type: string; data: unknown }[];

/** The context that has device `name` bound, and its object, if any. */
function boundIn(state: IommufdState, name: string): number | undefined {
  for (const k in state.contexts) {
    const c = state.contexts[k]!;
    for (const o in c.objects) if (c.objects[o]!.device === name) return c.id;
  }
  return undefined;
}

/** Contexts that have a device of IOMMU group `group` bound (its DMA owner). */
function groupOwners(state: IommufdState, group: number): number[] {
  const out: number[] = [];
  for (const k in state.contexts) {
    const c = state.contexts[k]!;
    for (const o in c.objects) {
      const name = c.objects[o]!.device;
      if (name !== undefined && deviceInfo(state, name)?.group === group) out.push(c.id);
    }
  }
  return out;
}

/**
 * Bind device `device` to context `ctxId`. Errors: EBADF context; ENODEV
 * no such platform device, a device behind the mock unit, or its IOMMU
 * unit is not in the system; EBUSY already bound (VFIO refuses a second
 * bind of a device file); EPERM its group is owned by another context
 * (iommu_device_claim_dma_owner() with another owner); ENOSPC no object
 * id; ENOMEM at `iommufd.device_bind`.
 * Event: `iommufd.object.created {type: "device", external: 1, device}`.
 */
export function decideDeviceBind(
  root: IommufdRoot,
  c: { ctx: number; device: string },
  ctx: SubsystemDecideContext<IommufdRoot>,
): Decided | Errno {
  const context = getContext(root.iommufd, c.ctx);
  if (isErrno(context)) return context;
  const info = deviceInfo(root.iommufd, c.device);
  if (info === undefined) return errno("ENODEV", `no device '${c.device}' behind a VT-d or SMMU unit`);
  const hw = root as HwRoot;
  const present = info.driver === "vtd" ? hw.vtd?.units.has(info.unit) : hw.smmu?.instances.has(info.unit);
  if (present !== true) return errno("ENODEV", `${info.driver} unit ${info.unit} is not in the system`);
  if (boundIn(root.iommufd, c.device) !== undefined) return errno("EBUSY", `'${c.device}' is already bound`);
  if (groupOwners(root.iommufd, info.group).some((id) => id !== c.ctx))
    return errno("EPERM", `IOMMU group ${info.group} is owned by another context`);
  const id = allocObjectId(context);
  if (isErrno(id)) return id;
  const fail = ctx.step("iommufd.device_bind", "ENOMEM");
  if (fail) return fail;
  return [
    {
      type: "iommufd.object.created",
      data: {
        ctx: c.ctx,
        id,
        type: "device",
        kobj: root.iommufd.nextKobj,
        refs: [],
        external: 1,
        device: c.device,
      },
    },
  ];
}
