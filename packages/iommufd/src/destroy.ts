/**
 * IOMMU_DESTROY (Linux iommufd_destroy → iommufd_object_remove).
 */
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import type { IommufdEvent } from "./messages";
import { getContext, usersOf } from "./objects";
import type { IommufdState } from "./state";

/**
 * Destroy object `id` of context `ctxId`: ENOENT when there is no such
 * object (id 0 included); EBUSY while another object uses it or a driver
 * holds it (a bound device). Destroy is never blocked by anything else.
 */
export function decideDestroy(state: IommufdState, ctxId: number, id: number): IommufdEvent[] | Errno {
  const c = getContext(state, ctxId);
  if (isErrno(c)) return c;
  const obj = c.objects[id];
  if (obj === undefined) return errno("ENOENT", `no object with id ${id}`);
  const users = usersOf(c, id);
  if (users.length > 0) return errno("EBUSY", `object ${id} is used by ${users.join(", ")}`);
  if ((obj.external ?? 0) > 0) return errno("EBUSY", `object ${id} is held by its driver`);
  return [{ type: "iommufd.object.destroyed", data: { ctx: ctxId, id, type: obj.type } }];
}
