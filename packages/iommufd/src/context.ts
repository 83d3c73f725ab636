/**
 * Opening and closing contexts (Linux iommufd_fops_open / iommufd_fops_release).
 */

import type { DecideContext } from "@iommu-sim/eventlog";
import type { Errno } from "@iommu-sim/uapi";
import type { IommufdEvent } from "./messages";
import { getContext, leafFirstOrder } from "./objects";
import type { IommufdState } from "./state";

/**
 * A new context. /dev/vfio/vfio opens default to per-mm accounting, as VFIO
 * does; /dev/iommu opens to per-user. Fails only when the allocation fails
 * (fault point `iommufd.ctx_alloc`, ENOMEM).
 */
export function decideOpen(
  state: IommufdState,
  pid: number,
  vfio: boolean,
  ctx: DecideContext,
): IommufdEvent[] | Errno {
  const fail = ctx.step("iommufd.ctx_alloc", "ENOMEM");
  if (fail) return fail;
  return [
    { type: "iommufd.opened", data: { ctx: state.nextContext, pid, accountMode: vfio ? "mm" : "user" } },
  ];
}

/**
 * Close a context: every object is destroyed leaf first (see
 * `leafFirstOrder`), then the context goes. Never fails for a valid
 * context: release cannot be refused. EBADF for a context that is not open.
 */
export function decideClose(state: IommufdState, ctxId: number): IommufdEvent[] | Errno {
  const c = getContext(state, ctxId);
  if ("code" in c) return c;
  const events: IommufdEvent[] = leafFirstOrder(c).map((o) => ({
    type: "iommufd.object.destroyed",
    data: { ctx: ctxId, id: o.id, type: o.type },
  }));
  events.push({ type: "iommufd.closed", data: { ctx: ctxId } });
  return events;
}
