/**
 * The per-context object table: id allocation, typed lookup and users.
 *
 * Linux drivers/iommu/iommufd/main.c: ids come from xa_alloc() on an
 * XA_FLAGS_ALLOC1 xarray with xa_limit_31b, i.e. the lowest free id in
 * [1, 2^31 − 1]; a freed id is reused. iommufd_get_object() answers ENOENT
 * for a missing id and for an object of the wrong type alike.
 */
import { type Errno, errno } from "@iommu-sim/uapi";
import type { IommufdContext, IommufdObject, IommufdState, ObjectType } from "./state";

/** The largest object id (xa_limit_31b). */
export const MAX_OBJECT_ID = 2 ** 31 - 1;

/** The context `ctx`, or EBADF when it is not open (a closed or foreign file descriptor). */
export function getContext(state: IommufdState, ctx: number): IommufdContext | Errno {
  return state.contexts[ctx] ?? errno("EBADF", `context ${ctx} is not open`);
}

/**
 * The lowest free object id of a context (skipping `taken`, ids already
 * chosen by the same command, and the context's tombstones), or ENOSPC
 * when all 2^31 − 1 are taken.
 */
export function allocObjectId(ctx: IommufdContext, taken: readonly number[] = []): number | Errno {
  const dead = ctx.tombstones ?? [];
  for (let id = 1; id <= MAX_OBJECT_ID; id++)
    if (ctx.objects[id] === undefined && !taken.includes(id) && !dead.includes(id)) return id;
  return errno("ENOSPC", "object ids exhausted");
}

/**
 * Object `id` of the given type (or any type), else ENOENT — the same errno
 * for "no such id" and "wrong type", as iommufd_get_object().
 */
export function getObject(ctx: IommufdContext, id: number, type?: ObjectType): IommufdObject | Errno {
  const obj = ctx.objects[id];
  if (obj === undefined || (type !== undefined && obj.type !== type)) {
    return errno("ENOENT", `no ${type ?? "object"} with id ${id}`);
  }
  return obj;
}

/** Ids of the objects that use `id` (hold a users reference on it). */
export function usersOf(ctx: IommufdContext, id: number): number[] {
  const users: number[] = [];
  for (const key in ctx.objects) {
    const o = ctx.objects[key]!;
    if (o.refs.includes(id)) users.push(o.id);
  }
  return users;
}

/**
 * The order in which closing the context destroys its objects, as
 * iommufd_fops_release() does it: sweep the ids in ascending order,
 * destroying each object nobody uses any more (an object freed earlier in
 * the same sweep no longer counts as a user), and sweep again until the
 * table is empty.
 */
export function leafFirstOrder(ctx: IommufdContext): IommufdObject[] {
  const left = new Map<number, IommufdObject>();
  for (const key in ctx.objects) left.set(Number(key), ctx.objects[key]!);
  const ids = [...left.keys()].sort((a, b) => a - b);
  const users = new Map<number, number>();
  for (const o of left.values()) for (const r of o.refs) users.set(r, (users.get(r) ?? 0) + 1);
  const order: IommufdObject[] = [];
  while (left.size > 0) {
    let destroyed = 0;
    for (const id of ids) {
      const o = left.get(id);
      if (o === undefined || (users.get(id) ?? 0) > 0) continue;
      left.delete(id);
      for (const r of o.refs) users.set(r, users.get(r)! - 1);
      order.push(o);
      destroyed++;
    }
    if (destroyed === 0) throw new Error("iommufd: object users form a cycle"); // a model bug, never user input
  }
  return order;
}
