/**
 * The VFIO compat IOAS of a context (Linux vfio_compat.c: ictx->vfio_ioas,
 * iommufd_vfio_ioas, get_compat_ioas): the IOAS that VFIO container
 * ioctls issued on this context operate on.
 */
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import type { IommufdEvent } from "./messages";
import { getContext, getObject } from "./objects";
import type { IommufdRoot } from "./root";

/** IOMMU_VFIO_IOAS_SET (ioasId ≠ 0; ENOENT unless an IOAS) or _CLEAR (ioasId = 0; always succeeds). */
export function decideVfioIoasSet(root: IommufdRoot, ctxId: number, ioasId: number): IommufdEvent[] | Errno {
  const c = getContext(root.iommufd, ctxId);
  if (isErrno(c)) return c;
  if (ioasId !== 0) {
    const ioas = getObject(c, ioasId, "ioas");
    if (isErrno(ioas)) return ioas;
  }
  return [{ type: "iommufd.vfioIoas.set", data: { ctx: ctxId, ioasId } }];
}

/** The compat IOAS object id of a context, or ENODEV when none is set (get_compat_ioas). */
export function compatIoas(root: IommufdRoot, ctxId: number): number | Errno {
  const c = getContext(root.iommufd, ctxId);
  if (isErrno(c)) return c;
  return c.vfioIoas ?? errno("ENODEV", "no compat IOAS: set one with IOMMU_VFIO_IOAS or attach a group");
}
