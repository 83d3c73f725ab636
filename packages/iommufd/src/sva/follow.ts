/**
 * The `vtd` slice's SVA duties, run in evolve like the IOAS following of
 * drivers/follow.ts (wrapped around it in system.ts):
 *
 * - the PRQ of SVA requests: prq_event_thread() reads the descriptor and
 *   moves PQH past it; the request goes to the SVA domain's handler (the
 *   ioasid slice queues it), never to iommufd's fault objects — so the
 *   iommufd PRQ path (fault/prq-follow.ts), which would answer a request
 *   at a PASID without an iommufd HWPT with FAILURE, does not see it;
 * - the mmu notifier of SVA-bound mms (svm.c intel_arch_invalidate_secondary_tlbs()
 *   → intel_flush_svm_range(): qi_flush_piotlb() per naturally aligned
 *   block, plus the device-TLB flush with ATS): an mm event that takes a
 *   translation away — munmap, an mmap over a mapped range, a COW break,
 *   fork's write protection (a whole-PASID flush, intel_flush_svm_all()) —
 *   drops the PASID's IOTLB entries for it in the same commit;
 * - the mm's exit (intel_mm_release()): the PASID entries of its devices
 *   are torn down (cleared, PASID cache and IOTLB flushed) before the page
 *   tables go; the bond and its domain stay until unbind.
 */
import type { Subsystem } from "@iommu-sim/eventlog";
import {
  executeDescriptor,
  PIOTLB_GRAN,
  piotlbDesc,
  teardownPasidEntry,
  type VtdRoot,
  type VtdState,
  type VtdUnit,
  vtd,
} from "@iommu-sim/hw-vtd";
import type { IoasidState } from "@iommu-sim/ioasid";
import type { MmState } from "@iommu-sim/iopt";
import { isVtdSvaPasid } from "./iopf";

/** What the SVA following reads besides the `vtd` slice. */
export interface SvaFollowRoot {
  readonly mm?: MmState;
  readonly ioasid?: IoasidState;
}

/** The mm events the notifier follows. */
export const SVA_MM_EVENTS = ["mm.unmapped", "mm.mapped", "mm.faulted", "mm.forked", "mm.exited"] as const;

/** Each VT-d attachment of an SVA domain for `mm`'s bonds: (unit, rid, PASID, DID). */
function svaAttachments(state: VtdState, ioasid: IoasidState | undefined, mm: number) {
  const out: { unit: VtdUnit; rid: number; pasid: number; did: number }[] = [];
  if (ioasid === undefined) return out;
  for (const key in ioasid.bonds) {
    const b = ioasid.bonds[key]!;
    if (b.mm !== mm) continue;
    for (const unit of state.units.values()) {
      const did = unit.devices.get(b.rid)?.attached.get(b.pasid);
      if (did !== undefined && unit.domains.get(did)?.kind === "sva")
        out.push({ unit, rid: b.rid, pasid: b.pasid, did });
    }
  }
  return out;
}

/**
 * The PASID-based IOTLB invalidations of [addr, addr + length) (bytes) for
 * `did`/`pasid`, as intel_flush_svm_range_dev() cuts it: one block of
 * 2^⌈log2 pages⌉ pages, aligned, repeated over the range; the whole PASID
 * (non-globals) when `length` is undefined.
 */
export function svaFlushDescriptors(did: number, pasid: number, addr?: bigint, length?: bigint) {
  if (addr === undefined || length === undefined)
    return [piotlbDesc(PIOTLB_GRAN.NONGLOBAL_PASID, did, pasid)];
  const pages = (length + 0xfffn) >> 12n;
  let shift = 0n;
  while (1n << shift < pages) shift++;
  const align = 0x1000n << shift;
  const out = [];
  for (let a = addr - (addr % align); a < addr + length; a += align)
    out.push(piotlbDesc(PIOTLB_GRAN.PAGE_PASID, did, pasid, a, Number(shift)));
  return out;
}

function flush(
  state: VtdState,
  root: SvaFollowRoot,
  mm: number,
  ranges: { addr: bigint; length: bigint }[] | "all",
) {
  let next = state;
  for (const a of svaAttachments(state, root.ioasid, mm)) {
    let unit = next.units.get(a.unit.id)!;
    if (unit.iotlb.size === 0) continue; // nothing cached: every invalidation is a no-op
    const descs =
      ranges === "all"
        ? svaFlushDescriptors(a.did, a.pasid)
        : ranges.flatMap((r) => svaFlushDescriptors(a.did, a.pasid, r.addr, r.length));
    for (const d of descs) unit = executeDescriptor(unit, d);
    next = { units: new Map(next.units).set(unit.id, unit) };
  }
  return next;
}

/** Whether `mm` has an SVA bond (the notifier is registered only then: most mm events — every pin — skip it). */
function bound(ioasid: IoasidState | undefined, mm: number): boolean {
  if (ioasid === undefined) return false;
  for (const key in ioasid.bonds) if (ioasid.bonds[key]!.mm === mm) return true;
  return false;
}

/** The notifier's part for one mm event (see the module comment). */
function mmNotifier(state: VtdState, e: { type: string; data: unknown }, root: SvaFollowRoot): VtdState {
  const d = e.data as { pid?: number; parent?: number };
  if (!bound(root.ioasid, d.pid ?? d.parent ?? 0)) return state;
  switch (e.type) {
    case "mm.unmapped":
    case "mm.mapped": {
      const d = e.data as { pid: number; addr: bigint; length: bigint };
      return flush(state, root, d.pid, [{ addr: d.addr, length: d.length }]);
    }
    case "mm.faulted": {
      // A COW break replaces a frame the device may have cached read-only.
      const d = e.data as { pid: number; runs: { va: bigint; count: number; copyFrom?: number[] }[] };
      const broken = d.runs.filter((r) => r.copyFrom !== undefined);
      if (broken.length === 0) return state;
      return flush(
        state,
        root,
        d.pid,
        broken.map((r) => ({ addr: r.va, length: BigInt(r.count) * 0x1000n })),
      );
    }
    case "mm.forked":
      return flush(state, root, (e.data as { parent: number }).parent, "all");
    case "mm.exited": {
      let next = state;
      for (const a of svaAttachments(state, root.ioasid, (e.data as { pid: number }).pid)) {
        const unit = teardownPasidEntry(next.units.get(a.unit.id)!, a.rid, a.pasid);
        next = { units: new Map(next.units).set(unit.id, unit) };
      }
      return next;
    }
    default:
      return state;
  }
}

/**
 * `inner` (the `vtd` slice as iommufd follows it) with the SVA duties
 * added: it also listens to SVA_MM_EVENTS.
 */
export function withSvaFollowing<C, E extends { type: string; data: unknown }, R extends VtdRoot>(
  inner: Subsystem<C & { type: string; data: unknown }, E, VtdState, R>,
): Subsystem<C & { type: string; data: unknown }, E, VtdState, R & SvaFollowRoot> {
  return {
    ...inner,
    // A slice that follows every event (no `events`) follows the mm's already.
    ...(inner.events === undefined ? {} : { events: [...inner.events, ...SVA_MM_EVENTS] }),
    evolve(state, e, root) {
      if (e.type.startsWith("mm.")) return mmNotifier(state, e, root);
      if (e.type === "vtd.prq.queued") {
        const d = e.data as { unit: number; rid: number; pasid?: number; overflow: boolean };
        if (!d.overflow && isVtdSvaPasid(state, d.unit, d.rid, d.pasid)) {
          const next = vtd.evolve(state, e as never, root);
          const head = next.units.get(d.unit)!.prqTail;
          return vtd.evolve(next, { type: "vtd.prq.consumed", data: { unit: d.unit, head } }, root);
        }
      }
      return inner.evolve(state, e, root);
    },
  };
}
