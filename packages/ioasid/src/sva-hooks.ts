/**
 * What SVA needs from the IOMMU drivers, supplied by the composition
 * (packages/iommufd/src/sva/): this package imports no hardware package,
 * so the hardware side of a bond and of its page faults comes in through
 * these hooks. Without them (`createIoasid({ devices })` alone) a bind only
 * allocates the mm's PASID, as before.
 *
 * Linux: iommu_sva_bind_device() (drivers/iommu/iommu-sva.c) allocates the
 * PASID, then attaches an SVA domain of the mm at it
 * (iommu_attach_device_pasid() → the driver's set_dev_pasid, e.g. Intel
 * intel_svm_set_dev_pasid()); page requests at that PASID reach the SVA
 * domain's iopf handler (io-pgfault.c iommu_report_device_fault() →
 * iommu_sva_iopf_handler()), whose work runs handle_mm_fault() and answers
 * the device (iopf_group_response()).
 */
import type { Message, SubsystemDecideContext } from "@iommu-sim/eventlog";
import type { Errno } from "@iommu-sim/uapi";

/** A device bound to an mm at a PASID (mm = the process id, see `mmOf`). */
export interface SvaBinding {
  readonly rid: number;
  readonly mm: number;
  readonly pasid: number;
}

/** One page of a page request, decoded by the driver (Linux `struct iommu_fault_page_request`). */
export interface SvaFaultPage {
  /** Page address (bytes, 4 KiB aligned). */
  readonly addr: bigint;
  readonly read: boolean;
  readonly write: boolean;
  readonly exec: boolean;
  /** Privileged-mode request (IOMMU_FAULT_PERM_PRIV). */
  readonly privileged: boolean;
}

/** A page request at an SVA-bound PASID, as the driver reports it (iommu_report_device_fault()). */
export interface SvaPageRequest extends SvaFaultPage {
  /** The IOMMU that raised it, named by the driver (e.g. `vtd:0`): where the response goes. */
  readonly source: string;
  readonly rid: number;
  readonly pasid: number;
  /** Page request group index. */
  readonly grpid: number;
  /** Last page in group: the group is complete and queued for the workqueue. */
  readonly last: boolean;
}

/** A page request group of an SVA domain (Linux `struct iopf_group`), pending until handled. */
export interface SvaIopfGroup {
  /** Queue-wide id (1, 2, …; never reused). */
  readonly id: number;
  readonly source: string;
  readonly rid: number;
  readonly pasid: number;
  readonly grpid: number;
  /** The pages, in arrival order. */
  readonly pages: readonly SvaFaultPage[];
  /** The last page arrived: the group is on the workqueue. */
  readonly complete: boolean;
}

/** The driver side of SVA (see the module comment). All functions are pure. */
export interface SvaHooks<R> {
  /**
   * Decide the hardware side of a new bond (device `rid` not yet bound to
   * the mm): the mm's CPU page table, the SVA domain, the PASID entry.
   * Every fallible step calls `ctx.step`. Returns the events (applied after
   * the PASID's allocation events) or the errno that fails the bind.
   */
  bind(root: R, b: SvaBinding, ctx: SubsystemDecideContext<R>): readonly Message[] | Errno;
  /**
   * The hardware side of a bond's end (its last unbind, or the process's
   * exit): answer the still pending groups of `pending` (Linux drains them
   * before tearing down, intel_drain_pasid_prq()), clear the PASID entry
   * with its flushes, free the SVA domain with its last device.
   */
  unbind(root: R, b: SvaBinding, pending: readonly SvaIopfGroup[]): readonly Message[];
  /** Event type prefixes that may carry page requests (e.g. `vtd.prq.queued`); the slice follows them. */
  readonly pageRequestEvents: readonly string[];
  /** The SVA page request `event` carries, if it is one at an SVA-bound PASID (root: after the event). */
  pageRequest(root: R, event: Message): SvaPageRequest | undefined;
  /**
   * The iopf work of `group` for process `pid`: fault its pages into the
   * mm and respond — the mm's events and the response to the hardware
   * (Linux iommu_sva_handle_iopf()). Cannot fail: a failed fault is an
   * INVALID response. Returns the events and the response code.
   */
  handle(
    root: R,
    group: SvaIopfGroup,
    pid: number,
    ctx: SubsystemDecideContext<R>,
  ): { readonly events: readonly Message[]; readonly code: number };
}
