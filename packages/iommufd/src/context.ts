/**
 * Opening and closing contexts (Linux iommufd_fops_open / iommufd_fops_release).
 */
import { type DecideContext, sealEpoch } from "@iommu-sim/eventlog";
import { type Errno, isErrno } from "@iommu-sim/uapi";
import { destroyEffects } from "./destroy-hooks";
import { getContext, leafFirstOrder } from "./objects";
import type { IommufdRoot, RootEvolve } from "./root";

type Decided = { type: string; data: unknown }[];

/**
 * A new context. /dev/vfio/vfio opens default to per-mm accounting, as VFIO
 * does; /dev/iommu opens to per-user. Fails only when the allocation fails
 * (fault point `iommufd.ctx_alloc`, ENOMEM).
 */
export function decideOpen(
  root: IommufdRoot,
  pid: number,
  vfio: boolean,
  ctx: DecideContext,
): Decided | Errno {
  const fail = ctx.step("iommufd.ctx_alloc", "ENOMEM");
  if (fail) return fail;
  return [
    {
      type: "iommufd.opened",
      data: { ctx: root.iommufd.nextContext, pid, accountMode: vfio ? "mm" : "user" },
    },
  ];
}

/**
 * Close a context: every object is destroyed leaf first (see
 * `leafFirstOrder`), each destroy decided on the state the earlier ones
 * leave (so a HWPT leaves its IOAS before the IOAS goes), then the context
 * goes. Release cannot be refused: EBADF only for a context that is not open.
 * @param evolve the composed system's evolve, to follow the destroys.
 * @throws Error if a leaf's destroy is refused — a model bug, not user input.
 */
export function decideClose(root: IommufdRoot, ctxId: number, evolve: RootEvolve): Decided | Errno {
  const c = getContext(root.iommufd, ctxId);
  if (isErrno(c)) return c;
  // The scratch evolution below must not write the live state's bulk tables in place.
  sealEpoch();
  let scratch = root;
  const events: Decided = [];
  const follow = (e: { type: string; data: unknown }) => {
    events.push(e);
    scratch = evolve(scratch, e);
  };
  for (const obj of leafFirstOrder(c)) {
    // Gone already: destroyed by an owner earlier in the sweep (a selftest object takes its device along).
    if (scratch.iommufd.contexts[ctxId]!.objects[obj.id] === undefined) continue;
    const effects = destroyEffects(scratch, ctxId, obj, evolve);
    if (isErrno(effects))
      throw new Error(`iommufd close: destroying ${obj.type} ${obj.id} failed: ${effects}`);
    for (const e of effects) follow(e);
    follow({ type: "iommufd.object.destroyed", data: { ctx: ctxId, id: obj.id, type: obj.type } });
  }
  events.push({ type: "iommufd.closed", data: { ctx: ctxId } });
  return events;
}
