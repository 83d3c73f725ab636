/**
 * Finding the IOAS a container ioctl operates on (Linux
 * drivers/iommu/iommufd/vfio_compat.c get_compat_ioas()): the context's
 * compat IOAS, set by IOMMU_VFIO_IOAS or by attaching a group.
 */
import { compatIoas, type IommufdRoot, kobjOf } from "@iommu-sim/iommufd";
import type { Ioas } from "@iommu-sim/iopt";
import { type Errno, isErrno } from "@iommu-sim/uapi";

/** The compat IOAS of a context: its object id, the iopt IOAS id behind it, and that IOAS. */
export interface CompatIoas {
  /** The IOAS's object id in the context's table (what IOMMU_VFIO_IOAS_GET answers). */
  readonly id: number;
  /** The id of the IOAS in the `iopt` slice (commands `ioas.*` take it). */
  readonly kobj: number;
  readonly ioas: Ioas;
}

/**
 * The compat IOAS of context `ctx`. ENODEV when none is set (no group
 * attached and no IOMMU_VFIO_IOAS_SET) — what every container ioctl but
 * GET_API_VERSION and CHECK_EXTENSION of a plain type answers then. The
 * context must be open (the dispatcher checks it first).
 * @throws Error if the object table names an IOAS iopt does not have — a
 *   model bug, never user input.
 */
export function getCompatIoas(root: IommufdRoot, ctx: number): CompatIoas | Errno {
  const id = compatIoas(root, ctx);
  if (isErrno(id)) return id;
  const kobj = kobjOf(root, ctx, id, "ioas");
  if (isErrno(kobj)) return kobj;
  const ioas = root.iopt.ioas.get(kobj);
  if (ioas === undefined) throw new Error(`compat IOAS ${id} of context ${ctx} has no iopt IOAS ${kobj}`);
  return { id, kobj, ioas };
}
