/**
 * Resolving a context's object ids to the kernel objects behind them.
 */
import { type Errno, isErrno } from "@iommu-sim/uapi";
import { getObject } from "../objects";
import type { IommufdRoot } from "../root";
import type { ObjectType } from "../state";

/**
 * The global id of object `id` of `type` in context `ctx` (iommufd_get_ioas()
 * and friends): ENOENT when absent or of another type — ids of one context
 * are ENOENT in every other.
 */
export function kobjOf(root: IommufdRoot, ctx: number, id: number, type: ObjectType): number | Errno {
  const o = getObject(root.iommufd.contexts[ctx]!, id, type);
  return isErrno(o) ? o : o.kobj!;
}
