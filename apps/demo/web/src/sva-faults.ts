/**
 * The SVA fault queue's model (part of the fault-queue panel, faults.ts):
 * the page request groups at SVA-bound PASIDs that `root.ioasid.iopf`
 * holds until the iopf workqueue runs (`sva.iopf.handle`), per SVA bond —
 * device, PASID, process — and the answers the hardware got for that
 * device and PASID.
 *
 * Linux: drivers/iommu/io-pgfault.c (iommu_report_device_fault() gathers
 * a group's pages until its last page, then queues `struct iopf_group` on
 * the domain's workqueue), drivers/iommu/iommu-sva.c
 * (iommu_sva_handle_iopf(): handle_mm_fault() per page, then
 * iopf_group_response()). The queue forgets a group once handled (as
 * Linux frees the iopf_group), so the answers are read where the hardware
 * keeps them: VT-d page groups with their page group response (VT-d 4.1
 * §7.7, §6.5.2.12: 0 Success, 1 Invalid Request, 0xF Response Failure) and
 * the SMMU's CMD_PRI_RESP responses (IHI 0070 §4.7.1: 0 Deny, 1 Fail,
 * 2 Success; the `resp` codes of Linux's `enum pri_resp`).
 *
 * Read structurally: a root without `ioasid.iopf` has no SVA fault queue.
 */
import { isMapLike, isRecord, list, num, tableValues } from "./slices";

/** One page of an SVA fault group (Linux `struct iommu_fault_page_request`). */
export interface SvaPageView {
  /** Page address (a process virtual address, bytes, 4 KiB aligned). */
  readonly addr: bigint;
  readonly read: boolean;
  readonly write: boolean;
  readonly exec: boolean;
  readonly privileged: boolean;
}

/** A page request group in the SVA fault queue (Linux `struct iopf_group`). */
export interface SvaGroupView {
  /** Queue-wide id (1, 2, …), the `group` of `sva.iopf.handle`. */
  readonly id: number;
  /** The IOMMU that raised it, as the driver names it ("vtd:0"). */
  readonly source: string;
  readonly rid: number;
  readonly pasid: number;
  /** Page request group index (PRG index, 9 bits). */
  readonly grpid: number;
  /** In arrival order. */
  readonly pages: readonly SvaPageView[];
  /** The last page arrived: queued for the iopf workqueue (else still gathering pages). */
  readonly complete: boolean;
}

/** An answer the hardware holds for a page group of the bond's device and PASID. */
export interface SvaAnswerView {
  /** "vtd" (code: 0 Success, 1 Invalid Request, 0xF Response Failure) or "smmu" (0 Deny, 1 Fail, 2 Success). */
  readonly hw: "vtd" | "smmu";
  /** VT-d unit or SMMU instance id. */
  readonly unit: number;
  readonly grpid: number;
  readonly code: number;
}

/** One SVA bond (`struct iommu_sva`): its pending groups and the answers so far. */
export interface SvaBondQueueView {
  readonly bond: number;
  readonly rid: number;
  readonly pasid: number;
  /** The bound process (its mm). */
  readonly pid: number;
  /** Groups of this device at this PASID, oldest first. */
  readonly pending: readonly SvaGroupView[];
  /** Page groups of this device at this PASID the hardware got a response for. */
  readonly answered: readonly SvaAnswerView[];
}

/** The SVA fault queue. */
export interface SvaQueueView {
  /** Every bond, ascending handle (bonds with nothing pending too: where answers show). */
  readonly bonds: readonly SvaBondQueueView[];
  /** Groups whose bond is gone (none in Linux: unbind drains them; shown if a state has them). */
  readonly orphans: readonly SvaGroupView[];
  /** Groups in the queue. */
  readonly total: number;
}

const bool = (v: unknown) => v === true;

function pageView(p: unknown): SvaPageView {
  const r = isRecord(p) ? p : {};
  return {
    addr: typeof r.addr === "bigint" ? r.addr : 0n,
    read: bool(r.read),
    write: bool(r.write),
    exec: bool(r.exec),
    privileged: bool(r.privileged),
  };
}

function groupView(g: Record<string, unknown>): SvaGroupView {
  return {
    id: num(g.id),
    source: typeof g.source === "string" ? g.source : "?",
    rid: num(g.rid),
    pasid: num(g.pasid),
    grpid: num(g.grpid),
    pages: list(g.pages).map(pageView),
    complete: bool(g.complete),
  };
}

/** VT-d page groups answered and SMMU PRI responses, for device `rid` at `pasid`. */
function answers(root: Readonly<Record<string, unknown>>, rid: number, pasid: number): SvaAnswerView[] {
  const out: SvaAnswerView[] = [];
  const vtd = root.vtd;
  if (isRecord(vtd) && isMapLike(vtd.units))
    for (const u of vtd.units.values()) {
      if (!isRecord(u) || !isMapLike(u.pageGroups)) continue;
      for (const g of u.pageGroups.values())
        if (isRecord(g) && g.rid === rid && g.pasid === pasid && typeof g.response === "number")
          out.push({ hw: "vtd", unit: num(u.id), grpid: num(g.index), code: g.response });
    }
  const smmu = root.smmu;
  if (isRecord(smmu) && isMapLike(smmu.instances))
    for (const i of smmu.instances.values()) {
      if (!isRecord(i)) continue;
      for (const r of list(i.priResponses))
        if (isRecord(r) && r.sid === rid && r.ssid === pasid)
          out.push({ hw: "smmu", unit: num(i.id), grpid: num(r.grpid), code: num(r.resp) });
    }
  return out;
}

/** The SVA fault queue of `root` (undefined when its `ioasid` slice has none). */
export function svaQueueView(root: Readonly<Record<string, unknown>>): SvaQueueView | undefined {
  const s = root.ioasid;
  if (!isRecord(s) || !Array.isArray(s.iopf)) return undefined;
  const groups = s.iopf.filter(isRecord).map(groupView);
  const taken = new Set<SvaGroupView>();
  const bonds = tableValues(s.bonds)
    .filter(isRecord)
    .map((b): SvaBondQueueView => {
      const rid = num(b.rid);
      const pasid = num(b.pasid);
      const pending = groups.filter((g) => g.rid === rid && g.pasid === pasid);
      for (const g of pending) taken.add(g);
      return { bond: num(b.bond), rid, pasid, pid: num(b.mm), pending, answered: answers(root, rid, pasid) };
    })
    .sort((a, b) => a.bond - b.bond);
  return { bonds, orphans: groups.filter((g) => !taken.has(g)), total: groups.length };
}
