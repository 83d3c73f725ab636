/**
 * What destroying each type of object does to the other slices, beyond
 * leaving the table (Linux iommufd_object_ops[type].destroy): an IOAS
 * unmaps everything and its io_pagetable goes (iommufd_ioas_destroy).
 * Destroy paths have no fallible steps, as in Linux: once the users check
 * passes, destroy always succeeds.
 */
import { decideIoasDestroy } from "@iommu-sim/iopt";
import { type Errno, isErrno } from "@iommu-sim/uapi";
import type { IommufdRoot } from "./root";
import type { IommufdObject } from "./state";

const NO_FAULTS = { step: () => undefined };

/** The events of destroying `obj` in the other slices (its own table entry excluded). */
export function destroyEffects(
  root: IommufdRoot,
  obj: IommufdObject,
): { type: string; data: unknown }[] | Errno {
  switch (obj.type) {
    case "ioas": {
      const r = decideIoasDestroy(root, { ioas: obj.kobj! }, { ...NO_FAULTS, root });
      return isErrno(r) ? r : [...r];
    }
    default:
      return [];
  }
}
