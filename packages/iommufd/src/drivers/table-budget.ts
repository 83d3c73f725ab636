/**
 * Table memory as a limit on maps. Linux's `iommu_map()` returns -ENOMEM
 * when the driver cannot allocate an IO page-table page (VT-d
 * `pfn_to_dma_pte()`, io-pgtable-arm `__arm_lpae_alloc_pages()`), and
 * iommufd unwinds: io_pagetable.c `iopt_area_fill_domains()` (IOMMU_IOAS_MAP,
 * IOMMU_IOAS_COPY) and `iopt_fill_domain()` (attach, HWPT allocation)
 * unmap what they had mapped, and the ioctl fails with ENOMEM having
 * changed nothing. Here domains follow their IOAS in evolve, which cannot
 * fail, so a command's maps are measured against the table memory of every
 * unit they write before its events are accepted.
 *
 * Cheaply: for each `ioas.mapped` / `ioas.domain_attached {fill}` a command
 * emits, each written hardware domain's driver gives an upper bound of
 * the table pages of each area (`IommuDriver.mapTableBound`: from its
 * length and the driver's table levels, no walk), summed per unit; only a
 * unit whose bound exceeds its free frames (`IommuDriver.tableFramesFree`)
 * is counted exactly (`IommuDriver.mapTablePages`, a walk), and the
 * command is refused with ENOMEM when the exact count exceeds them too. A
 * 4 KiB map into a unit with 4 or more free frames never walks.
 *
 * Which state a map is measured on: a command whose events before its maps
 * are iopt's and iommufd's only (IOMMU_IOAS_MAP, COPY, MAP_FILE) sees the
 * table memory of the state it was decided on, and its maps' bounds add
 * up. A command whose maps follow hardware events (attach and HWPT
 * allocation: the new domain's root table, context/PASID or STE/CD tables,
 * then its fill) is measured step by step, each map on the state the
 * events before it leave (evolved on sealed tables, never in place).
 */
import { type Message, sealEpoch } from "@iommu-sim/eventlog";
import { type Errno, errno } from "@iommu-sim/uapi";
import type { HwDomainRef, IommufdState } from "../state";
import type { DriverKind, HwRoot, IommuDriver } from "./driver";
import type { AreaMap } from "./follow";
import { driverOf } from "./index";

type MappedData = { readonly ioas: number } & AreaMap;
type AttachedData = { readonly domain: { readonly id: number }; readonly fill: readonly AreaMap[] };

/** How errors name a unit. */
const UNIT_NAME: Readonly<Record<DriverKind, string>> = {
  vtd: "VT-d unit",
  smmu: "SMMU instance",
  mock: "mock IOMMU",
};

/** One hardware domain a map event writes, and what it maps there. */
interface DomainWrite {
  readonly ref: HwDomainRef;
  readonly areas: readonly AreaMap[];
}

/**
 * Table pages demanded per unit: the first domain seen of each unit (its
 * driver and unit) and a count. A command writes a few units at most, so
 * a linear search; one instance, reset per use (decide is not re-entered
 * while it is filled), keeps the hot path free of allocations.
 */
class Demand {
  readonly refs: HwDomainRef[] = [];
  readonly pages: number[] = [];
  n = 0;

  reset(): void {
    this.n = 0;
  }

  add(ref: HwDomainRef, pages: number): void {
    for (let i = 0; i < this.n; i++) {
      const r = this.refs[i]!;
      if (r.unit === ref.unit && r.driver === ref.driver) {
        this.pages[i] = this.pages[i]! + pages;
        return;
      }
    }
    this.refs[this.n] = ref;
    this.pages[this.n] = pages;
    this.n++;
  }
}

const demand = new Demand();

/** The hardware domains of an IOAS by unit: the unit's driver, one of its domains (naming the unit) and how many. */
interface UnitShare {
  readonly driver: IommuDriver;
  readonly ref: HwDomainRef;
  readonly domains: number;
}

/** `unitShares` of a `domains` array, with the `hwDomains` record it was computed from. */
interface SharesMemo {
  readonly hwDomains: IommufdState["hwDomains"];
  readonly shares: readonly UnitShare[];
}

/**
 * Memo of `unitShares` per IOAS `domains` array. Both inputs are immutable
 * (iopt replaces the array on attach/detach; iommufd the record on
 * bind/unbind), so an entry is valid while both are the same objects —
 * and a map, which changes neither, finds it.
 */
const sharesMemo = new WeakMap<readonly { readonly id: number }[], SharesMemo>();

/** The units the hardware domains `doms` live on (mock domains, without a `hwDomains` entry, own no table memory). */
function unitShares(root: HwRoot, doms: readonly { readonly id: number }[]): readonly UnitShare[] {
  const hwDomains = root.iommufd.hwDomains;
  const memo = sharesMemo.get(doms);
  if (memo !== undefined && memo.hwDomains === hwDomains) return memo.shares;
  const shares: UnitShare[] = [];
  for (const d of doms) {
    const ref = hwDomains[d.id];
    if (ref === undefined) continue;
    const i = shares.findIndex((u) => u.ref.unit === ref.unit && u.ref.driver === ref.driver);
    if (i < 0) shares.push({ driver: driverOf(ref.driver), ref, domains: 1 });
    else shares[i] = { ...shares[i]!, domains: shares[i]!.domains + 1 };
  }
  sharesMemo.set(doms, { hwDomains, shares });
  return shares;
}

function exhausted(ref: HwDomainRef, need: number, free: number): Errno {
  return errno(
    "ENOMEM",
    `${UNIT_NAME[ref.driver]} ${ref.unit}: IO page-table memory exhausted (${need} table pages needed, ${free} free)`,
  );
}

/** 4 KiB pages of an area: its runs' frames. */
function pagesOf(a: AreaMap): number {
  let n = 0;
  for (let i = 0; i < a.pfnRuns.length; i++) n += a.pfnRuns[i]!.count;
  return n;
}

/** The sum of the driver's bounds for mapping `areas` into a domain of `ref`'s driver. */
function boundOf(ref: HwDomainRef, areas: readonly AreaMap[]): number {
  const driver = driverOf(ref.driver);
  let n = 0;
  for (let i = 0; i < areas.length; i++) n += driver.mapTableBound(pagesOf(areas[i]!));
  return n;
}

/**
 * The exact table pages `writes` need on the unit of `unit` (the domains
 * of `writes` on that unit), each domain's areas counted in order.
 */
function exactOn(root: HwRoot, unit: HwDomainRef, writes: readonly DomainWrite[]): number {
  let n = 0;
  for (const w of writes)
    if (w.ref.unit === unit.unit && w.ref.driver === unit.driver)
      n += driverOf(w.ref.driver).mapTablePages(root, w.ref, w.areas);
  return n;
}

/**
 * Refuse the maps whose bounds `demand` holds (all seen on `root`) when a
 * unit's table memory cannot hold them: the bound first, the exact count
 * of a unit's domain writes only when its bound does not fit. The writes
 * are `writes`, or when absent those of the map events of `events` (built
 * only then: the common case never needs them).
 */
function checkDemand(
  root: HwRoot,
  writes: readonly DomainWrite[] | undefined,
  events: readonly Message[],
): Errno | undefined {
  for (let i = 0; i < demand.n; i++) {
    const ref = demand.refs[i]!;
    const free = driverOf(ref.driver).tableFramesFree(root, ref);
    if (demand.pages[i]! <= free) continue;
    writes ??= groupedWrites(root, events);
    const need = exactOn(root, ref, writes);
    if (need > free) return exhausted(ref, need, free);
  }
  return undefined;
}

/** The hardware domains `ioas.mapped` writes on `root`: those attached to its IOAS (mock domains own no table memory). */
function mappedWrites(root: HwRoot, d: MappedData, out: DomainWrite[]): void {
  if (d.pfnRuns.length === 0) return;
  const doms = root.iopt.ioas.get(d.ioas)?.domains;
  if (doms === undefined) return;
  for (let i = 0; i < doms.length; i++) {
    const ref = root.iommufd.hwDomains[doms[i]!.id];
    if (ref !== undefined) out.push({ ref, areas: [d] });
  }
}

/**
 * The domain writes of the map events of `events` on `root` grouped per
 * domain, in order (IOAS_COPY of several areas shares tables).
 */
function groupedWrites(root: HwRoot, events: readonly Message[]): DomainWrite[] {
  const byDomain = new Map<HwDomainRef, AreaMap[]>();
  for (const e of events) {
    if (!isMapEvent(e)) continue;
    for (const w of writesOf(root, e)) {
      const areas = byDomain.get(w.ref);
      if (areas === undefined) byDomain.set(w.ref, [...w.areas]);
      else areas.push(...w.areas);
    }
  }
  return [...byDomain].map(([ref, areas]) => ({ ref, areas }));
}

/** Whether `e` is an event of a hardware slice (it may allocate table memory: a domain, an attach). */
function isHardwareEvent(e: Message): boolean {
  const c = e.type.charCodeAt(0);
  // The first letter first: most events are neither (mm., ioas., iopt., iommufd.).
  return (c === 0x76 && e.type.startsWith("vtd.")) || (c === 0x73 && e.type.startsWith("smmu."));
}

/** Whether `e` maps something into a domain: a non-empty `ioas.mapped`, an `ioas.domain_attached` with a fill. */
function isMapEvent(e: Message): boolean {
  if (e.type === "ioas.mapped") return (e.data as MappedData).pfnRuns.length > 0;
  return e.type === "ioas.domain_attached" && (e.data as AttachedData).fill.length > 0;
}

/** The domain writes of map event `e` on state `s`. */
function writesOf(s: HwRoot, e: Message): DomainWrite[] {
  const out: DomainWrite[] = [];
  if (e.type === "ioas.mapped") mappedWrites(s, e.data as MappedData, out);
  else {
    const d = e.data as AttachedData;
    const ref = s.iommufd.hwDomains[d.domain.id];
    if (ref !== undefined) out.push({ ref, areas: d.fill.filter((a) => a.pfnRuns.length > 0) });
  }
  return out;
}

/**
 * Step by step: each map event measured on the state the events before it
 * leave (`evolve`d on sealed tables), which holds the table frames a new
 * domain and its attachment took and the domain itself.
 */
function sequentialCheck<S>(
  root: S,
  events: readonly Message[],
  lastMap: number,
  evolve: (s: S, e: Message) => S,
): Errno | undefined {
  sealEpoch();
  let s = root;
  for (let i = 0; i <= lastMap; i++) {
    const e = events[i]!;
    if (isMapEvent(e)) {
      const hw = s as unknown as HwRoot;
      const writes = writesOf(hw, e);
      demand.reset();
      for (const w of writes) demand.add(w.ref, boundOf(w.ref, w.areas));
      const err = checkDemand(hw, writes, events);
      if (err) return err;
    }
    if (i < lastMap) s = evolve(s, e);
  }
  return undefined;
}

/**
 * ENOMEM when the maps of `events` (decided on `root`) need more IO
 * page-table frames on some unit than it has left, naming the unit; else
 * undefined. See the file comment for the bound / exact split.
 */
export function tableMemoryCheck<S>(
  root: S,
  events: readonly Message[],
  evolve: (s: S, e: Message) => S,
): Errno | undefined {
  const hw = root as unknown as HwRoot;
  let lastMap = -1;
  demand.reset();
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.type === "ioas.mapped") {
      const d = e.data as MappedData;
      if (d.pfnRuns.length === 0) continue;
      lastMap = i;
      const doms = hw.iopt.ioas.get(d.ioas)?.domains;
      if (doms === undefined || doms.length === 0) continue;
      const shares = unitShares(hw, doms);
      const pages = pagesOf(d);
      for (let j = 0; j < shares.length; j++) {
        const u = shares[j]!;
        demand.add(u.ref, u.driver.mapTableBound(pages) * u.domains);
      }
    } else if (e.type === "ioas.domain_attached") {
      const d = e.data as AttachedData;
      if (d.fill.length === 0) continue;
      lastMap = i;
      // Not bound in `root`: a domain this command allocates (after hardware events), or the mock's.
      const ref = hw.iommufd.hwDomains[d.domain.id];
      if (ref !== undefined) demand.add(ref, boundOf(ref, d.fill));
    }
  }
  if (lastMap < 0) return undefined;
  // Hardware events before a map may have taken table frames or made its domain: step by step.
  for (let i = 0; i < lastMap; i++)
    if (isHardwareEvent(events[i]!)) return sequentialCheck(root, events, lastMap, evolve);
  // No hardware event before: a domain not bound in `root` is a selftest mock domain (no table memory).
  return checkDemand(hw, undefined, events);
}
