/**
 * Hardware domains follow their IOAS: the `vtd` and `smmu` subsystems,
 * wrapped so that their slice also evolves on iopt's `ioas.*` events for
 * the domains iommufd bound to them (`iommufd.hw_domain.bound`) — the
 * pattern of iopt's mock domain (mock-domain/subsystem.ts), with the
 * hardware's own page tables. Linux io_pagetable.c: iopt_fill_domain()
 * and iopt_area_fill_domains() map, iopt_unfill_domain() and
 * iopt_area_unfill_domains() unmap, each followed by the IOTLB
 * invalidation the driver issues (VT-d `cache_tag_flush_range()`: a
 * page-selective IOTLB descriptor; SMMUv3 `arm_smmu_tlb_inv_range_domain()`
 * + ATC_INV + SYNC, done by hw-smmu's `unmapRange`). Without it a cached
 * translation would survive the unmap — what the hardware models exist to show.
 *
 * Mapping cannot fail here: iopt refused in decide whatever lies outside
 * the domain's aperture (its DomainDescriptor), areas never overlap, and
 * map-steps.ts refused a command whose maps need more table frames than
 * a unit has left (table-budget.ts).
 */
import type { Subsystem } from "@iommu-sim/eventlog";
import {
  mapRange,
  type SmmuOutEvent,
  type SmmuRoot,
  type SmmuState,
  smmuSubsystem,
  unmapRange,
} from "@iommu-sim/hw-smmu";
import {
  type Descriptor,
  executeDescriptor,
  flushIotlbRange,
  IOTLB_GRAN,
  iotlbDesc,
  mapDomain,
  unmapDomain,
  type VtdEmitted,
  type VtdRoot,
  type VtdState,
  type VtdUnit,
  vtd,
} from "@iommu-sim/hw-vtd";
import { Errno, type SmmuCommand, type VtdCommand } from "@iommu-sim/uapi";
import type { VtdPageRequestEvent } from "../fault/evolve";
import { smmuPageRequestHandled, vtdPageRequestHandled } from "../fault/prq-follow";
import type { IommufdRoot } from "../root";
import type { HwDomainRef } from "../state";

/** A run of 4 KiB frames backing an area. */
interface PfnRun {
  readonly pfn: number;
  readonly count: number;
}

/** What a domain maps for one area: `length` bytes at `iova` from `pfnRuns` (4 KiB frames), Linux `prot`. */
export interface AreaMap {
  readonly iova: bigint;
  readonly length: bigint;
  readonly pfnRuns: readonly PfnRun[];
  readonly prot: number;
}

/** The iopt events a hardware domain follows. */
export type IoasFollowEvent =
  | { type: "ioas.domain_attached"; data: { ioas: number; domain: { id: number }; fill: readonly AreaMap[] } }
  | { type: "ioas.mapped"; data: { ioas: number } & AreaMap }
  | { type: "ioas.unmapped"; data: { ioas: number; iova: bigint; length: bigint } }
  | { type: "ioas.domain_detached"; data: { ioas: number; domain: number } };

/** The domain-level operations one hardware slice needs to follow an IOAS. */
interface Follower<S> {
  readonly driver: HwDomainRef["driver"];
  map(state: S, ref: HwDomainRef, area: AreaMap): S;
  /** Unmap [iova, iova + length) and invalidate the IOTLB as the driver does. */
  unmap(state: S, ref: HwDomainRef, iova: bigint, length: bigint): S;
  /** After the last area left: the driver's whole-domain flush (if any). */
  flushAll(state: S, ref: HwDomainRef): S;
}

const NO_DOMAINS: readonly { readonly id: number }[] = [];

/** The domains attached to IOAS `ioas` (their descriptors; `hwDomains` tells whose they are). */
function domainsOf(root: IommufdRoot, ioas: number): readonly { readonly id: number }[] {
  return root.iopt.ioas.get(ioas)?.domains ?? NO_DOMAINS;
}

/** Apply one `ioas.*` event to the hardware slice `state` through `f`. */
function follow<S>(f: Follower<S>, state: S, e: IoasFollowEvent, root: IommufdRoot): S {
  switch (e.type) {
    case "ioas.domain_attached": {
      const ref = root.iommufd.hwDomains[e.data.domain.id];
      if (ref?.driver !== f.driver) return state;
      for (const a of e.data.fill) if (a.pfnRuns.length > 0) state = f.map(state, ref, a);
      return state;
    }
    case "ioas.mapped": {
      if (e.data.pfnRuns.length === 0) return state;
      for (const d of domainsOf(root, e.data.ioas)) {
        const ref = root.iommufd.hwDomains[d.id];
        if (ref?.driver === f.driver) state = f.map(state, ref, e.data);
      }
      return state;
    }
    case "ioas.unmapped": {
      for (const d of domainsOf(root, e.data.ioas)) {
        const ref = root.iommufd.hwDomains[d.id];
        if (ref?.driver === f.driver) state = f.unmap(state, ref, e.data.iova, e.data.length);
      }
      return state;
    }
    case "ioas.domain_detached": {
      // iopt_unfill_domain(): the areas are still in the IOAS; the domain unmaps each.
      const ref = root.iommufd.hwDomains[e.data.domain];
      if (ref?.driver !== f.driver) return state;
      for (const a of root.iopt.ioas.get(e.data.ioas)?.areas ?? [])
        state = f.unmap(state, ref, a.iova, a.last - a.iova + 1n);
      return f.flushAll(state, ref);
    }
    default:
      return state;
  }
}

function withVtdUnit(state: VtdState, unit: VtdUnit): VtdState {
  const units = new Map(state.units);
  units.set(unit.id, unit);
  return { units };
}

/** The unit of `ref` if it still has the domain (else the follower leaves the slice alone). */
function unitOf(state: VtdState, ref: HwDomainRef): VtdUnit | undefined {
  const u = state.units.get(ref.unit);
  return u === undefined || !u.domains.has(ref.domain) ? undefined : u;
}

/** The slice with `after` replacing `before`; table memory written in place leaves the unit, and so the slice, as it was. */
function withVtdUnitChanged(state: VtdState, before: VtdUnit, after: VtdUnit): VtdState {
  return after === before ? state : withVtdUnit(state, after);
}

function runDescriptors(unit: VtdUnit, descs: readonly Descriptor[]): VtdUnit {
  for (const d of descs) unit = executeDescriptor(unit, d);
  return unit;
}

const vtdFollower: Follower<VtdState> = {
  driver: "vtd",
  map(s, ref, a) {
    const u = unitOf(s, ref);
    return u === undefined
      ? s
      : withVtdUnitChanged(s, u, mapDomain(u, ref.domain, a.iova, a.pfnRuns, a.prot));
  },
  // cache_tag_flush_range(): the page-selective IOTLB flush of iotlbFlushDescriptors, executed directly.
  unmap(s, ref, iova, length) {
    const u = unitOf(s, ref);
    if (u === undefined) return s;
    return withVtdUnitChanged(
      s,
      u,
      flushIotlbRange(unmapDomain(u, ref.domain, iova, length), ref.domain, iova, length),
    );
  },
  flushAll(s, ref) {
    const u = unitOf(s, ref);
    return u === undefined
      ? s
      : withVtdUnitChanged(s, u, runDescriptors(u, [iotlbDesc(IOTLB_GRAN.DOMAIN, ref.domain)]));
  },
};

// `instanceof` here rather than isErrno(): a check of its own keeps this hot site monomorphic.
const orState = (r: SmmuState | Errno, s: SmmuState): SmmuState => (r instanceof Errno ? s : r);

const smmuFollower: Follower<SmmuState> = {
  driver: "smmu",
  map: (s, ref, a) => orState(mapRange(s, ref.unit, ref.domain, a.iova, a.pfnRuns, a.prot), s),
  // hw-smmu's unmapRange issues Linux's TLBI (+ ATC_INV) + SYNC itself.
  unmap: (s, ref, iova, length) => orState(unmapRange(s, ref.unit, ref.domain, iova, length), s),
  flushAll: (s) => s,
};

/** The root the followers read: iopt's IOAS (domains, areas) and iommufd's domain map. */
type FollowRoot = IommufdRoot;

/**
 * `vtd` (hw-vtd) whose slice also follows the IOAS of every VT-d domain
 * iommufd bound. Root key `vtd`, commands `vtd.`; list it after `iommufd`.
 */
export const vtdFollowing: Subsystem<
  VtdCommand,
  VtdEmitted | IoasFollowEvent,
  VtdState,
  VtdRoot & FollowRoot
> = {
  commands: vtd.commands,
  events: ["vtd.", "ioas."],
  initialState: vtd.initialState,
  decide: vtd.decide,
  evolve(state, e, root) {
    if (e.type.startsWith("ioas.")) return follow(vtdFollower, state, e as IoasFollowEvent, root);
    const next = vtd.evolve(state, e as VtdEmitted, root);
    // The intel driver reads the page request it owns (fault/prq-follow.ts).
    if (e.type === "vtd.prq.queued") return vtdPageRequestHandled(next, e.data as VtdPageRequestEvent, root);
    return next;
  },
};

/**
 * `smmu` (hw-smmu) whose slice also follows the IOAS of every SMMU domain
 * iommufd bound. Root key `smmu`, commands `smmu.`; list it after `iommufd`.
 */
export const smmuFollowing: Subsystem<
  SmmuCommand,
  SmmuOutEvent | IoasFollowEvent,
  SmmuState,
  SmmuRoot & FollowRoot
> = {
  commands: smmuSubsystem.commands,
  events: ["smmu.", "ioas."],
  initialState: smmuSubsystem.initialState,
  decide: smmuSubsystem.decide,
  evolve(state, e, root) {
    if (e.type.startsWith("ioas.")) return follow(smmuFollower, state, e as IoasFollowEvent, root);
    const next = smmuSubsystem.evolve(state, e as SmmuOutEvent, root);
    // The SMMUv3 driver consumes the PRI queue record it owns (fault/prq-follow.ts).
    if (e.type === "smmu.pri.queued")
      return smmuPageRequestHandled(next, e.data as { instance: number; record: bigint[] }, root);
    return next;
  },
};
