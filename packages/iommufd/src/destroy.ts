/**
 * IOMMU_DESTROY (Linux iommufd_destroy → iommufd_object_remove).
 */
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import { destroyEffects } from "./destroy-hooks";
import { getContext, usersOf } from "./objects";
import type { IommufdRoot } from "./root";

/**
 * Destroy object `id` of context `ctxId`: ENOENT when there is no such
 * object (id 0 included); EBUSY while another object uses it or a driver
 * holds it (a bound device). Nothing else blocks a destroy.
 * Events: the object's effects in other slices (destroy-hooks.ts), then
 * `iommufd.object.destroyed`.
 */
export function decideDestroy(
  root: IommufdRoot,
  ctxId: number,
  id: number,
): { type: string; data: unknown }[] | Errno {
  const c = getContext(root.iommufd, ctxId);
  if (isErrno(c)) return c;
  const obj = c.objects[id];
  if (obj === undefined) return errno("ENOENT", `no object with id ${id}`);
  const users = usersOf(c, id);
  if (users.length > 0) return errno("EBUSY", `object ${id} is used by ${users.join(", ")}`);
  if ((obj.external ?? 0) > 0) return errno("EBUSY", `object ${id} is held by its driver`);
  const effects = destroyEffects(root, ctxId, obj);
  if (isErrno(effects)) return effects;
  return [...effects, { type: "iommufd.object.destroyed", data: { ctx: ctxId, id, type: obj.type } }];
}
