/**
 * How the fault queues of the iommufd slice evolve: on iommufd's own fault
 * events, on fault objects appearing and going, and — following the
 * hardware, as drivers/follow.ts follows the IOAS — on the page requests
 * the hardware models write (`vtd.prq.queued`, `smmu.pri.queued`). A
 * request of a device bound to a context and attached, at the request's
 * PASID, to a HWPT with a fault queue joins that queue in the same commit
 * as the DMA that faulted, so replay is deterministic.
 *
 * Page → `iommu_hwpt_pgfault` fields:
 * - VT-d (prq.c intel_prq_report()): hw-vtd `pageRequestToPgfault` —
 *   LAST_PAGE from LPIG, PASID_VALID | RESPONSE_NEEDS_PASID with a PASID,
 *   perm R/W/EXEC/PRIV from the descriptor, grpid = the PRG index;
 * - SMMUv3 (PRI queue record, IHI 0070 §8.1): LAST_PAGE from Last,
 *   PASID_VALID from SSV, perm from R/W/X/PnU, grpid = the PRG index.
 */
import { decodePageRequest as decodePriRecord } from "@iommu-sim/hw-smmu";
import { type DmaEvent, pageRequestToPgfault } from "@iommu-sim/hw-vtd";
import { IOMMU_PGFAULT_FLAGS_LAST_PAGE, IOMMU_PGFAULT_FLAGS_PASID_VALID, pgfaultPerm } from "@iommu-sim/uapi";
import type { IommufdState } from "../state";
import {
  addPage,
  deliverGroups,
  emptyQueue,
  type FaultQueue,
  type FaultSource,
  type PageFault,
  removeGroup,
} from "./queue";
import { routeHwRequest } from "./route";

type AnyEvent = { type: string; data: unknown };

/** `vtd.prq.queued`'s data, as hw-vtd declares it. */
export type VtdPageRequestEvent = Extract<DmaEvent, { type: "vtd.prq.queued" }>["data"];

function withQueue(state: IommufdState, kobj: number, q: FaultQueue | undefined): IommufdState {
  const { [kobj]: _old, ...rest } = state.faults ?? {};
  return { ...state, faults: q === undefined ? rest : { ...rest, [kobj]: q } };
}

function onQueue(state: IommufdState, kobj: number, fn: (q: FaultQueue) => FaultQueue): IommufdState {
  const q = state.faults?.[kobj];
  return q === undefined ? state : withQueue(state, kobj, fn(q));
}

/** Deliver one hardware page to the queue its device's attachment names, if any. */
function hwPage(
  state: IommufdState,
  driver: "vtd" | "smmu",
  unit: number,
  rid: number,
  pasid: number,
  grpid: number,
  page: PageFault,
): IommufdState {
  const { target } = routeHwRequest(state, driver, unit, rid, pasid);
  if (target === undefined) return state;
  const origin = { devId: target.devId, source: { driver, unit, rid }, pasid, grpid };
  return onQueue(state, target.fault, (q) => addPage(q, origin, page));
}

/**
 * A page request the VT-d unit dropped (PRS.PRO): software never sees it,
 * and the driver discards the partial groups of that unit, whose last page
 * may be the one lost (prq.c → iopf_queue_discard_partial()).
 */
function discardPartial(state: IommufdState, unit: number): IommufdState {
  let next = state;
  for (const [k, q] of Object.entries(state.faults ?? {})) {
    const partial = q.partial.filter((g) => g.source.driver !== "vtd" || g.source.unit !== unit);
    if (partial.length !== q.partial.length) next = withQueue(next, Number(k), { ...q, partial });
  }
  return next;
}

function vtdPage(state: IommufdState, d: VtdPageRequestEvent): IommufdState {
  if (d.overflow) return discardPartial(state, d.unit);
  const r = pageRequestToPgfault(d, 0, 0);
  return hwPage(state, "vtd", d.unit, d.rid, d.pasid ?? 0, d.index, {
    addr: r.addr,
    perm: r.perm,
    flags: r.flags,
  });
}

function smmuPage(state: IommufdState, d: { instance: number; record: readonly bigint[] }): IommufdState {
  const p = decodePriRecord(d.record);
  const perm = pgfaultPerm(p);
  const flags =
    (p.last ? IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0) |
    (p.ssid === undefined ? 0 : IOMMU_PGFAULT_FLAGS_PASID_VALID);
  return hwPage(state, "smmu", d.instance, p.sid, p.ssid ?? 0, p.grpid, { addr: p.addr, perm, flags });
}

/** The kobj of the queue of fault object `id` in context `ctx`. */
function queueKey(state: IommufdState, ctx: number, id: number): number | undefined {
  for (const [k, q] of Object.entries(state.faults ?? {})) if (q.ctx === ctx && q.id === id) return Number(k);
  return undefined;
}

/**
 * Apply one event to the fault queues; runs after `evolveIommufd` on every
 * event the iommufd subsystem listens to. Events of no concern return
 * `state` itself.
 */
export function evolveFaults(state: IommufdState, e: AnyEvent): IommufdState {
  switch (e.type) {
    case "iommufd.object.created": {
      const d = e.data as { ctx: number; id: number; type: string; kobj?: number };
      if (d.type !== "fault" || d.kobj === undefined) return state;
      return withQueue(state, d.kobj, emptyQueue(d.ctx, d.id));
    }
    case "iommufd.object.destroyed": {
      const d = e.data as { ctx: number; id: number; type: string };
      if (d.type !== "fault") return state;
      const key = queueKey(state, d.ctx, d.id);
      return key === undefined ? state : withQueue(state, key, undefined);
    }
    case "iommufd.fault.reported": {
      const d = e.data as {
        fault: number;
        devId: number;
        source: FaultSource;
        pasid: number;
        grpid: number;
        page: PageFault;
      };
      return onQueue(state, d.fault, (q) => addPage(q, d, d.page));
    }
    case "iommufd.fault.delivered": {
      const d = e.data as { fault: number; groups: { seq: number; cookie: number }[] };
      return onQueue(state, d.fault, (q) => deliverGroups(q, d.groups));
    }
    case "iommufd.fault.responded": {
      const d = e.data as { fault: number; seq: number };
      return onQueue(state, d.fault, (q) => removeGroup(q, d.seq));
    }
    case "iommufd.fault.released": {
      const d = e.data as { ctx: number; id: number };
      const obj = state.contexts[d.ctx]?.objects[d.id];
      if (obj === undefined) return state;
      const c = state.contexts[d.ctx]!;
      const external = Math.max(0, (obj.external ?? 0) - 1);
      const objects = { ...c.objects, [d.id]: { ...obj, external } };
      return { ...state, contexts: { ...state.contexts, [d.ctx]: { ...c, objects } } };
    }
    case "vtd.prq.queued":
      return vtdPage(state, e.data as VtdPageRequestEvent);
    case "smmu.pri.queued":
      return smmuPage(state, e.data as { instance: number; record: readonly bigint[] });
    default:
      return state;
  }
}
