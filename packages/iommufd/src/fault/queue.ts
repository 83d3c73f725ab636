/**
 * An IO page fault queue (Linux `struct iommufd_fault` in eventq.c, with
 * the group assembly of drivers/iommu/io-pgfault.c): page requests arrive
 * one page at a time; a group is complete with its LAST_PAGE page and only
 * then joins the deliver list that read(2) takes from; a group read gets a
 * cookie in the response table until write(2) (or a detach or destroy)
 * answers it.
 *
 * Pure transitions on frozen values; the iommufd slice holds one queue per
 * fault object, keyed by the object's kobj (`IommufdState.faults`).
 */
import { IOMMU_PGFAULT_FLAGS_LAST_PAGE } from "@iommu-sim/uapi";

/**
 * One page of a page request group (Linux `struct iommu_fault_page_request`
 * as iommufd reports it): `addr` in bytes, `perm` IOMMU_PGFAULT_PERM_*,
 * `flags` IOMMU_PGFAULT_FLAGS_* plus Linux's RESPONSE_NEEDS_PASID (bit 2),
 * copied into the record as they are (iommufd_compose_fault_message()).
 */
export interface PageFault {
  readonly addr: bigint;
  readonly perm: number;
  readonly flags: number;
}

/** The hardware a group came from: where its response goes. The selftest mock has unit 0, rid 0. */
export interface FaultSource {
  readonly driver: "vtd" | "smmu" | "mock";
  readonly unit: number;
  /** Requester id (= SMMU StreamID). */
  readonly rid: number;
}

/** A page request group (Linux `struct iopf_group`). */
export interface IopfGroup {
  /** Arrival number in its queue (deterministic handle for events). */
  readonly seq: number;
  /** The device object's id in the queue's context (the record's `dev_id`). */
  readonly devId: number;
  readonly source: FaultSource;
  /** PASID (0 without IOMMU_PGFAULT_FLAGS_PASID_VALID). */
  readonly pasid: number;
  /** Page request group index. */
  readonly grpid: number;
  /** The pages in record order; the last one carries LAST_PAGE. */
  readonly pages: readonly PageFault[];
  /** Set once read(2) delivered the group (xa_alloc in the response table). */
  readonly cookie?: number;
}

/** One fault object's queue. */
export interface FaultQueue {
  /** The context and object id of the fault object. */
  readonly ctx: number;
  readonly id: number;
  /** Complete groups not read yet, oldest first (Linux `fault->common.deliver`). */
  readonly deliver: readonly IopfGroup[];
  /** Groups read and awaiting a response, by cookie (Linux `fault->response`). */
  readonly response: Readonly<Record<number, IopfGroup>>;
  /**
   * Pages whose group's LAST_PAGE has not arrived (Linux
   * `iopf_param->partial`, kept per queue here: every page of one group
   * comes through the same attachment).
   */
  readonly partial: readonly IopfGroup[];
  /** The next group's `seq`. */
  readonly nextSeq: number;
}

/** An empty queue of fault object `id` in context `ctx`. */
export function emptyQueue(ctx: number, id: number): FaultQueue {
  return { ctx, id, deliver: [], response: {}, partial: [], nextSeq: 0 };
}

/** Where a page comes from and which group it belongs to. */
export interface PageOrigin {
  readonly devId: number;
  readonly source: FaultSource;
  readonly pasid: number;
  readonly grpid: number;
}

const sameGroup = (g: IopfGroup, o: PageOrigin) =>
  g.devId === o.devId &&
  g.grpid === o.grpid &&
  g.source.driver === o.source.driver &&
  g.source.unit === o.source.unit &&
  g.source.rid === o.source.rid;

/**
 * Add one reported page. Without LAST_PAGE it waits in `partial`
 * (report_partial_fault()); with it, the group is assembled and appended
 * to `deliver` (iopf_group_alloc() → iommufd_fault_iopf_handler()). Linux
 * moves each partial page of the group, in arrival order, to the *front*
 * of the group's list ("insert before the last fault", list_move), so the
 * records come out as the partial pages newest first, then the last page;
 * this model keeps that order.
 */
export function addPage(q: FaultQueue, o: PageOrigin, page: PageFault): FaultQueue {
  const last = (page.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE) !== 0;
  const waiting = q.partial.find((g) => sameGroup(g, o));
  if (!last) {
    const grown =
      waiting === undefined
        ? { ...o, seq: -1, pages: [page] }
        : { ...waiting, pages: [...waiting.pages, page] };
    return { ...q, partial: [...q.partial.filter((g) => g !== waiting), grown] };
  }
  const pages = [...(waiting?.pages ?? [])].reverse();
  pages.push(page);
  const group: IopfGroup = { ...o, seq: q.nextSeq, pages };
  return {
    ...q,
    deliver: [...q.deliver, group],
    partial: waiting === undefined ? q.partial : q.partial.filter((g) => g !== waiting),
    nextSeq: q.nextSeq + 1,
  };
}

/** Move the groups `seq` → `cookie` from `deliver` to the response table (read(2)). */
export function deliverGroups(q: FaultQueue, groups: readonly { seq: number; cookie: number }[]): FaultQueue {
  const response: Record<number, IopfGroup> = { ...q.response };
  let deliver = q.deliver;
  for (const { seq, cookie } of groups) {
    const g = deliver.find((x) => x.seq === seq);
    if (g === undefined) continue;
    deliver = deliver.filter((x) => x !== g);
    response[cookie] = { ...g, cookie };
  }
  return { ...q, deliver, response };
}

/** Remove group `seq` wherever it waits (answered). */
export function removeGroup(q: FaultQueue, seq: number): FaultQueue {
  const inDeliver = q.deliver.some((g) => g.seq === seq);
  if (inDeliver) return { ...q, deliver: q.deliver.filter((g) => g.seq !== seq) };
  for (const [key, g] of Object.entries(q.response)) {
    if (g.seq !== seq) continue;
    const { [Number(key)]: _gone, ...response } = q.response;
    return { ...q, response };
  }
  return q;
}

/**
 * Every complete group of the queue in the order iommufd_fault_destroy()
 * answers them: the deliver list, then the response table by cookie
 * (integer keys enumerate in ascending order).
 */
export function pendingGroups(q: FaultQueue): IopfGroup[] {
  return [...q.deliver, ...Object.values(q.response)];
}

/**
 * The lowest free cookie ≥ 1 (xa_alloc on an XA_FLAGS_ALLOC1 xarray,
 * xa_limit_32b), skipping `taken`; undefined when all 2^32 − 1 are used.
 */
export function allocCookie(q: FaultQueue, taken: readonly number[]): number | undefined {
  for (let c = 1; c <= 0xffff_ffff; c++) if (q.response[c] === undefined && !taken.includes(c)) return c;
  return undefined;
}
