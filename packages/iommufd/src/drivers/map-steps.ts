/**
 * Page-table page allocation, decided before the maps are made. Linux's
 * `iommu_map()` can fail with ENOMEM while the driver allocates IO
 * page-table pages (VT-d `pfn_to_dma_pte()`, io-pgtable-arm
 * `__arm_lpae_alloc_pages()`), under IOMMU_IOAS_MAP / IOMMU_IOAS_COPY
 * (io_pagetable.c iopt_area_fill_domains()) and under attach and HWPT
 * allocation, which fill a new domain (iopt_fill_domain()). Here domains
 * follow their IOAS in evolve, which cannot fail, so after a command's
 * events are decided, its `ioas.mapped` / `ioas.domain_attached {fill}`
 * events are checked twice, in this order:
 *
 * 1. Under fault injection (any context but the log's `NO_FAULTS`), each
 *    asks the driver of every domain it writes how many table pages the
 *    map allocates (`IommuDriver.mapTablePages`) and takes one
 *    `ctx.step("<driver>.pt_alloc", "ENOMEM")` per page. Skipped
 *    otherwise: no step could fail, and planning them costs the map hot
 *    path ~0.4 µs per domain.
 * 2. Always, the unit's real table memory (table-budget.ts): a command
 *    whose maps need more table frames on some unit than it has left
 *    (`IommuDriver.tableFramesFree`) fails with ENOMEM ("VT-d unit 0:
 *    IO page-table memory exhausted …") — from a cheap per-area bound
 *    (`IommuDriver.mapTableBound`), the exact count only when the bound
 *    does not fit.
 *
 * A failure fails the whole command, which then leaves nothing (no event,
 * object, pin or table) — as Linux unwinds the area, its pins and the
 * domains it already filled.
 */
import { type DecideContext, type Decider, type Message, NO_FAULTS, sealEpoch } from "@iommu-sim/eventlog";
import { type Errno, isErrno } from "@iommu-sim/uapi";
import { domainRef } from "../devices";
import type { IommufdRoot } from "../root";
import type { HwRoot } from "./driver";
import type { AreaMap } from "./follow";
import { driverOf } from "./index";
import { tableMemoryCheck } from "./table-budget";

type MappedData = { readonly ioas: number } & AreaMap;
type AttachedData = { readonly domain: { readonly id: number }; readonly fill: readonly AreaMap[] };

/** `n` steps at `<driver>.pt_alloc`; the first that fires is returned. */
function ptAllocSteps(driver: string, n: number, ctx: DecideContext): Errno | undefined {
  for (let i = 0; i < n; i++) {
    const e = ctx.step(`${driver}.pt_alloc`, "ENOMEM");
    if (e) return e;
  }
  return undefined;
}

/** The table-page steps of mapping `areas` into domain `id` as the root `root` has it. */
function domainSteps(root: HwRoot, id: number, areas: readonly AreaMap[], ctx: DecideContext) {
  const ref = domainRef(root.iommufd, id);
  const driver = driverOf(ref.driver);
  return ptAllocSteps(ref.driver, driver.mapTablePages(root, ref, areas), ctx);
}

/**
 * `ioas.mapped`: every domain attached to the IOAS maps the new area
 * (iopt_area_fill_domains()). Collected per domain, in order, so that
 * areas of one command (IOAS_COPY of several areas) sharing a new table
 * count it once.
 */
function collectMapped(root: HwRoot, d: MappedData, into: Map<number, AreaMap[]>): void {
  if (d.pfnRuns.length === 0) return;
  for (const dom of root.iopt.ioas.get(d.ioas)?.domains ?? []) {
    const areas = into.get(dom.id);
    if (areas === undefined) into.set(dom.id, [d]);
    else areas.push(d);
  }
}

/**
 * The `<driver>.pt_alloc` steps of `events`, decided on `root`. A new
 * domain is filled (`ioas.domain_attached`) after the events that
 * allocated and bound it, so the root is first evolved through them, on
 * sealed bulk tables (never in place).
 */
function tableSteps<S>(
  root: S,
  events: readonly Message[],
  evolve: (s: S, e: Message) => S,
  ctx: DecideContext,
): Errno | undefined {
  const mapped = new Map<number, AreaMap[]>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.type === "ioas.mapped") collectMapped(root as unknown as HwRoot, e.data as MappedData, mapped);
    else if (e.type === "ioas.domain_attached") {
      const d = e.data as AttachedData;
      if (!d.fill.some((a) => a.pfnRuns.length > 0)) continue;
      sealEpoch();
      let scratch = root;
      for (let j = 0; j < i; j++) scratch = evolve(scratch, events[j]!);
      const err = domainSteps(scratch as unknown as HwRoot, d.domain.id, d.fill, ctx);
      if (err) return err;
    }
  }
  for (const [id, areas] of mapped) {
    const err = domainSteps(root as unknown as HwRoot, id, areas, ctx);
    if (err) return err;
  }
  return undefined;
}

/**
 * `decider` whose commands also take the `<driver>.pt_alloc` steps of the
 * IO page-table pages their maps allocate in the domains attached to an
 * IOAS, and fail with ENOMEM when a unit's table memory cannot hold those
 * pages (createSystem wraps the composed root decider with it).
 */
export function withTableSteps<C extends Message, E extends Message, S extends IommufdRoot>(
  decider: Decider<C, E, S>,
): Decider<C, E, S> {
  return {
    ...decider,
    decide(state, command, ctx) {
      const r = decider.decide(state, command, ctx);
      if (isErrno(r)) return r;
      const evolve = decider.evolve as (s: S, e: Message) => S;
      // Without fault injection (the log's NO_FAULTS) no step can fail: the
      // plan is skipped, which keeps it off the map/unmap hot path.
      if (ctx.step !== NO_FAULTS.step) {
        const e = tableSteps(state, r, evolve, ctx);
        if (e) return e;
      }
      // After the steps, so that fault injection sees the same sites as before.
      return tableMemoryCheck(state, r, evolve) ?? r;
    },
  };
}
