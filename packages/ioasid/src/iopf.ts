/**
 * The SVA fault queue and its workqueue: page requests at SVA-bound PASIDs
 * gather into groups (Linux io-pgfault.c iommu_report_device_fault():
 * partial pages wait for the last page of their group, then the group is
 * queued for the domain's iopf handler), and `sva.iopf.handle` runs one
 * group's work (iommu-sva.c iommu_sva_handle_iopf(): handle_mm_fault() per
 * page, then iopf_group_response()).
 */
import type { Message, SubsystemDecideContext } from "@iommu-sim/eventlog";
import { type Errno, errno, type IoasidCommand } from "@iommu-sim/uapi";
import { type IoasidState, update } from "./state";
import type { SvaHooks, SvaIopfGroup, SvaPageRequest } from "./sva-hooks";

type Cmd<T extends IoasidCommand["type"]> = Extract<IoasidCommand, { type: T }>["data"];

/**
 * The queue after page request `r`: added to its open group (same source,
 * device and group index, last page not yet seen), else a new group.
 */
export function queuePageRequest(state: IoasidState, r: SvaPageRequest): IoasidState {
  const page = { addr: r.addr, read: r.read, write: r.write, exec: r.exec, privileged: r.privileged };
  const i = state.iopf.findIndex(
    (g) => !g.complete && g.source === r.source && g.rid === r.rid && g.grpid === r.grpid,
  );
  if (i >= 0) {
    const g = state.iopf[i]!;
    const iopf = state.iopf.slice();
    iopf[i] = { ...g, pages: [...g.pages, page], complete: r.last };
    return update(state, { iopf });
  }
  const id = state.lastIopf + 1;
  const group: SvaIopfGroup = {
    id,
    source: r.source,
    rid: r.rid,
    pasid: r.pasid,
    grpid: r.grpid,
    pages: [page],
    complete: r.last,
  };
  return update(state, { iopf: [...state.iopf, group], lastIopf: id });
}

/** The queue without group `id` (handled), or without every group of `rid` at `pasid` (unbound). */
export function dropGroups(state: IoasidState, match: (g: SvaIopfGroup) => boolean): IoasidState {
  const iopf = state.iopf.filter((g) => !match(g));
  return iopf.length === state.iopf.length ? state : update(state, { iopf });
}

/**
 * sva.iopf.handle: run the work of group `group` (default: the oldest
 * complete one). Errors: ENOENT when there is no such complete group;
 * ENODEV without SVA hooks (nothing can have queued). Events: the hooks'
 * (the pages faulted in, the response to the device), then
 * sva.iopf.handled {group, rid, pasid, grpid, code}.
 */
export function decideIopfHandle<R>(
  state: IoasidState,
  c: Cmd<"sva.iopf.handle">,
  ctx: SubsystemDecideContext<R>,
  hooks: SvaHooks<R> | undefined,
): readonly Message[] | Errno {
  if (hooks === undefined) return errno("ENODEV", "no SVA driver hooks: no fault queue");
  const g = state.iopf.find((x) => x.complete && (c.group === undefined || x.id === c.group));
  if (g === undefined)
    return errno(
      "ENOENT",
      c.group === undefined ? "no SVA fault group pending" : `no SVA fault group ${c.group}`,
    );
  let pid: number | undefined;
  for (const key in state.bonds) {
    const b = state.bonds[key]!;
    if (b.rid === g.rid && b.pasid === g.pasid) pid = b.mm;
  }
  // A group whose bond is gone is answered INVALID without touching an mm (the mm is the bond's).
  const r = hooks.handle(ctx.root, g, pid ?? 0, ctx);
  return [
    ...r.events,
    {
      type: "sva.iopf.handled",
      data: { group: g.id, rid: g.rid, pasid: g.pasid, grpid: g.grpid, code: r.code },
    },
  ];
}
