/**
 * IOMMU_IOAS_ALLOC (Linux ioas.c iommufd_ioas_alloc_ioctl): a new IOAS
 * object in the context's table, backed by a new io_pagetable in iopt.
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import { decideIoasCreate } from "@iommu-sim/iopt";
import { type Errno, isErrno } from "@iommu-sim/uapi";
import { allocObjectId, getContext } from "./objects";
import type { IommufdRoot } from "./root";

/**
 * Allocate an IOAS: the lowest free object id, a fresh global id for iopt.
 * Errors: EBADF (context not open), ENOSPC (ids exhausted), ENOMEM (fault
 * points `iommufd.object_alloc` and iopt's).
 * Events: iopt's `ioas.created`, then `iommufd.object.created {type: "ioas"}`.
 */
export function decideIoasAlloc(
  root: IommufdRoot,
  ctxId: number,
  ctx: SubsystemDecideContext<IommufdRoot>,
): { type: string; data: unknown }[] | Errno {
  const c = getContext(root.iommufd, ctxId);
  if (isErrno(c)) return c;
  const id = allocObjectId(c);
  if (isErrno(id)) return id;
  const fail = ctx.step("iommufd.object_alloc", "ENOMEM");
  if (fail) return fail;
  const kobj = root.iommufd.nextKobj;
  const created = decideIoasCreate(root, { ioas: kobj }, ctx);
  if (isErrno(created)) return created;
  return [
    ...created,
    { type: "iommufd.object.created", data: { ctx: ctxId, id, type: "ioas", kobj, refs: [] } },
  ];
}
