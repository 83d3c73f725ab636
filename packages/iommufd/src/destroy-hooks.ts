/**
 * What destroying each type of object does beyond leaving the table
 * (Linux iommufd_object_ops[type].destroy):
 * - ioas: unmaps everything, its io_pagetable goes (iommufd_ioas_destroy);
 * - hwpt_paging: iopt detaches its domain, the driver frees it;
 * - hwpt_nested: the driver frees its nested domain (hwpt-nested.ts);
 * - device (a bound platform device, on close): detached like
 *   iommufd.device.detach (iommufd_device_unbind after VFIO's detach);
 * - selftest: detaches and unbinds its mock device (iommufd_selftest_destroy),
 *   whose vDEVICE, if any, goes first (vdevice.ts); an auto-domain HWPT
 *   whose last device leaves goes too;
 * - viommu, vdevice: nothing beyond the table (the mock's vIOMMU keeps no
 *   state; the references they hold go with them);
 * - access (closing the context with a selftest access left): its items
 *   are unpinned and it leaves its IOAS (selftest/access.ts).
 * - hw_queue: its internal access unpins the queue memory and goes
 *   (hw-queue.ts);
 * - fault: every page request group still waiting is answered
 *   IOMMU_PAGE_RESP_INVALID, down to the hardware (fault/decide.ts).
 * Destroy paths have no fallible steps, as in Linux: once the users check
 * passes, destroy always succeeds.
 */
import { decideIoasDestroy } from "@iommu-sim/iopt";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import { deviceDetachEffects } from "./device-attach";
import { mockDeviceInfo } from "./devices";
import type { HwRoot } from "./drivers/driver";
import { mockDriver } from "./drivers/mock";
import { faultDestroyEffects, faultDetachEffects } from "./fault/decide";
import { hwQueueDestroyEffects } from "./hw-queue";
import { hwptPagingDestroyEffects } from "./hwpt";
import { hwptNestedDestroyEffects } from "./hwpt-nested";
import { usersOf } from "./objects";
import type { IommufdRoot, RootEvolve } from "./root";
import { accessDestroyEffects } from "./selftest/access";
import { mockPasidDetachAll } from "./selftest/pasid";
import type { IommufdObject } from "./state";
import { vdeviceRemoveEffects } from "./vdevice";

type Decided = { type: string; data: unknown }[];
const NO_FAULTS = { step: () => undefined };

/**
 * Detach mock device `idev` from its HWPT (the mock driver's blocking
 * detach, drivers/mock.ts); an auto-domain HWPT left without users is
 * destroyed too.
 */
function detachDevice(root: IommufdRoot, ctxId: number, idev: IommufdObject): Decided | Errno {
  const c = root.iommufd.contexts[ctxId]!;
  const events: Decided = [
    ...mockDriver.detachDevice(root as HwRoot, mockDeviceInfo(ctxId, idev), 0),
    ...faultDetachEffects(root, ctxId, idev.id, 0),
    { type: "iommufd.object.refs.set", data: { ctx: ctxId, id: idev.id, refs: [] } },
  ];
  const hwpt = idev.refs.length > 0 ? c.objects[idev.refs[0]!] : undefined;
  if (hwpt?.autoDomain === true && usersOf(c, hwpt.id).every((u) => u === idev.id)) {
    const effects = hwptPagingDestroyEffects(root, ctxId, hwpt);
    if (isErrno(effects)) return effects;
    events.push(...effects, {
      type: "iommufd.object.destroyed",
      data: { ctx: ctxId, id: hwpt.id, type: hwpt.type },
    });
  }
  return events;
}

/**
 * The events of destroying `obj` of context `ctxId`, its own table entry
 * excluded. `evolve` (the system's) is needed for a bound platform device,
 * whose detaches are decided one after the other; without it such a device
 * answers EBUSY (it goes by unbind, not IOMMU_DESTROY).
 */
export function destroyEffects(
  root: IommufdRoot,
  ctxId: number,
  obj: IommufdObject,
  evolve?: RootEvolve,
): Decided | Errno {
  switch (obj.type) {
    case "ioas": {
      const r = decideIoasDestroy(root, { ioas: obj.kobj! }, { ...NO_FAULTS, root });
      return isErrno(r) ? r : [...r];
    }
    case "hwpt_paging":
      return hwptPagingDestroyEffects(root, ctxId, obj);
    case "hwpt_nested":
      return hwptNestedDestroyEffects(root, obj);
    case "device":
      if (obj.device === undefined) return [];
      if (evolve === undefined) return errno("EBUSY", "a bound device goes by unbind");
      return deviceDetachEffects(root, ctxId, obj, evolve);
    case "selftest": {
      const c = root.iommufd.contexts[ctxId]!;
      const idev = c.objects[obj.refs[0]!]!;
      const detach = detachDevice(root, ctxId, idev);
      if (isErrno(detach)) return detach;
      return [
        ...vdeviceRemoveEffects(c, idev),
        ...mockPasidDetachAll(root, obj, ctxId),
        ...detach,
        { type: "iommufd.object.destroyed", data: { ctx: ctxId, id: idev.id, type: "device" } },
      ];
    }
    case "fault":
      return faultDestroyEffects(root, obj.kobj);
    case "access":
      return accessDestroyEffects(root, obj);
    case "hw_queue":
      return hwQueueDestroyEffects(root, obj);
    default:
      return [];
  }
}
