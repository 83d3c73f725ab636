/**
 * Page requests at SVA PASIDs and their handling.
 *
 * - Reporting (Linux intel prq.c prq_event_thread() → intel_prq_report() →
 *   io-pgfault.c iommu_report_device_fault()): a `vtd.prq.queued` whose
 *   device has an SVA domain attached at the request's PASID is the SVA
 *   domain's — its iopf_handler is iommu_sva_iopf_handler(), not iommufd's
 *   fault queue; the ioasid slice keeps it in the SVA fault queue.
 * - Handling (iommu-sva.c iommu_sva_handle_iopf(), on the iopf workqueue):
 *   each page through iommu_sva_handle_mm() (mm's `handleIommuFault`), then
 *   iopf_group_response() → intel_page_response(): a page group response
 *   descriptor with the status.
 */
import type { Message, SubsystemDecideContext } from "@iommu-sim/eventlog";
import type { VtdState } from "@iommu-sim/hw-vtd";
import type { SvaIopfGroup, SvaPageRequest } from "@iommu-sim/ioasid";
import { handleIommuFault, IOMMU_PAGE_RESP, type MmState } from "@iommu-sim/iopt";
import type { VtdPageRequestEvent } from "../fault/evolve";
import { vtdGroupResponse } from "./vtd";

/** Whether `rid`'s attachment at `pasid` on VT-d unit `unit` is an SVA domain. */
export function isVtdSvaPasid(
  vtd: VtdState | undefined,
  unit: number,
  rid: number,
  pasid: number | undefined,
): boolean {
  if (pasid === undefined) return false;
  const u = vtd?.units.get(unit);
  const did = u?.devices.get(rid)?.attached.get(pasid);
  return did !== undefined && u?.domains.get(did)?.kind === "sva";
}

/** The SVA page request a `vtd.prq.queued` event reports, if its PASID is SVA-bound (a dropped request — PRO — is none). */
export function vtdSvaPageRequest(vtd: VtdState | undefined, e: Message): SvaPageRequest | undefined {
  if (e.type !== "vtd.prq.queued") return undefined;
  const d = e.data as VtdPageRequestEvent;
  if (d.overflow || !isVtdSvaPasid(vtd, d.unit, d.rid, d.pasid)) return undefined;
  return {
    source: `vtd:${d.unit}`,
    rid: d.rid,
    pasid: d.pasid!,
    grpid: d.index,
    addr: d.addr,
    read: d.read,
    write: d.write,
    exec: d.exec,
    privileged: d.privileged,
    last: d.lpig,
  };
}

/**
 * The work of SVA fault group `g` of process `pid` (0: no bond): the mm's
 * fault-in events and the page group response. The allocation of frames
 * is the `mm.fault` fault point; failing it answers INVALID, as
 * handle_mm_fault()'s VM_FAULT_OOM does.
 */
export function handleSvaGroup(
  root: { readonly mm: MmState; readonly vtd: VtdState },
  g: SvaIopfGroup,
  pid: number,
  ctx: SubsystemDecideContext<unknown>,
): { events: Message[]; code: number } {
  const unit = Number(g.source.slice("vtd:".length));
  let { events, code } = handleIommuFault(root.mm, pid, g.pages);
  if (events.length > 0 && ctx.step("mm.fault") !== undefined) {
    events = [];
    code = IOMMU_PAGE_RESP.INVALID;
  }
  return { events: [...events, ...vtdGroupResponse(root.vtd, unit, g, code)], code };
}
