/**
 * The decide-time working set of one iopt command: which holders of which
 * iopt_pages appear or go, and the pins, unpins, faults and RLIMIT_MEMLOCK
 * charges that follow — what pages.c does with iopt_area_fill_domains(),
 * iopt_pages_fill_xarray() and their unfill counterparts, computed before
 * anything is committed so that a failure leaves no trace.
 *
 * Pinning rule (Linux's): an iopt_pages page is pinned exactly while an
 * area over it sits in an IOAS with at least one domain, or an access pin
 * holds it; it is pinned once however many such holders it has.
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import {
  type FaultPlan,
  faultEvents,
  hasFaults,
  newFaultPlan,
  type PfnRun,
  resolveObjectPages,
  resolvePages,
} from "../mm/fault";
import { PAGE_SIZE, TASK_SIZE } from "../mm/state";
import {
  addPinned,
  framesOf,
  type Interval,
  pinnedIntervals,
  removePinned,
  subtract,
  union,
} from "./intervals";
import { areaAt } from "./iova";
import type { IoptDecided, IoptRoot } from "./messages";
import {
  ACCOUNT_MM,
  ACCOUNT_NONE,
  ACCOUNT_USER,
  type AccessHold,
  type Area,
  areaIndexRange,
  type Pages,
  type PinnedRun,
} from "./state";
import { toNumber } from "./u64";

const PAGE_BIG = BigInt(PAGE_SIZE);
const TASK_SIZE_BIG = BigInt(TASK_SIZE);

/**
 * pin_user_pages() of pages [index, index+count) of an iopt_pages: from
 * the process's memory, or from the file's page cache for
 * IOMMU_IOAS_MAP_FILE pages. Errors: EFAULT (unmapped, mm gone, beyond
 * user space or the file), EBADF (file gone).
 */
export function pinFrames(
  root: IoptRoot,
  pages: Pick<Pages, "pid" | "uptr" | "file" | "writable">,
  index: number,
  count: number,
  plan: FaultPlan,
): PfnRun[] | Errno {
  if (pages.file !== undefined) {
    const first = pages.uptr / PAGE_BIG + BigInt(index);
    return exactSize(resolveObjectPages(root.mm, pages.pid, pages.file, Number(first), count, plan));
  }
  // User VAs below TASK_SIZE (2^47) are exact numbers: no bigint arithmetic on the hot path.
  if (pages.uptr >= TASK_SIZE_BIG) return errno("EFAULT", "pages outside the user address space");
  const at = toNumber(pages.uptr) + index * PAGE_SIZE;
  if (at + count * PAGE_SIZE > TASK_SIZE) return errno("EFAULT", "pages outside the user address space");
  return exactSize(resolvePages(root.mm, pages.pid, at, count, pages.writable ? "pinWrite" : "pin", plan));
}

/**
 * The runs in an array of their own length: the resolver grew its list by
 * push (17 slots, 152 bytes, for a single run), and the log keeps the list
 * in an event for as long as it keeps the event.
 */
function exactSize(runs: PfnRun[] | Errno): PfnRun[] | Errno {
  return isErrno(runs) ? runs : runs.slice();
}

/**
 * incr_user_locked_vm() / __account_locked_vm() (pages.c): ENOMEM when
 * `pending` more pages (4 KiB) charged to account (`mode`, `accountId`)
 * would pass `lockLimit` pages; nothing for ACCOUNT_NONE or `pending` ≤ 0.
 */
export function overMemlock(
  root: IoptRoot,
  mode: number,
  accountId: number,
  lockLimit: number,
  pending: number,
): Errno | undefined {
  if (mode === ACCOUNT_NONE || pending <= 0) return undefined;
  const table = mode === ACCOUNT_USER ? root.iopt.userLocked : root.iopt.mmLocked;
  const locked = (table.get(accountId) ?? 0) + pending;
  if (locked <= lockLimit) return undefined;
  return errno(
    "ENOMEM",
    `RLIMIT_MEMLOCK: ${locked} pages > ${lockLimit} (${mode === ACCOUNT_MM ? "per-mm" : "per-user"})`,
  );
}

/** Decide context of the iopt subsystem. */
export type IoptCtx = SubsystemDecideContext<IoptRoot>;

/** See the module comment. One per command; `finish()` gives the events. */
export class PinTxn {
  readonly plan: FaultPlan;
  private readonly events: IoptDecided[] = [];
  private readonly pinned = new Map<number, PinnedRun[]>();
  private readonly addedAreas: { ioas: number; area: Area }[] = [];
  /** Areas (state objects) removed by this command. */
  private readonly removedAreas = new Set<Area>();
  private readonly addedHolds: AccessHold[] = [];
  private readonly removedPins = new Set<string>();
  private readonly domained = new Map<number, boolean>();
  private readonly touched = new Set<number>();
  private readonly charges = new Map<string, number>();

  constructor(
    readonly root: IoptRoot,
    readonly ctx: IoptCtx,
  ) {
    this.plan = newFaultPlan(root.mm);
  }

  /** Emit an event (in order). */
  emit(e: IoptDecided): void {
    this.events.push(e);
  }

  /** A pages object of the state (MAP and MAP_FILE create theirs without a txn, see new-pages.ts). */
  pagesOf(id: number): Pages {
    return this.root.iopt.pages.get(id)!;
  }

  /** The working pinned runs of pages `id`. */
  pinnedOf(id: number): PinnedRun[] {
    let p = this.pinned.get(id);
    if (p === undefined) {
      p = [...this.pagesOf(id).pinned];
      this.pinned.set(id, p);
    }
    return p;
  }

  /** An area appears in `ioas`. */
  addArea(ioas: number, area: Area): void {
    this.addedAreas.push({ ioas, area });
    this.touched.add(area.pages);
  }

  /** The area (an object of `ioas`'s state) leaves `ioas`. */
  removeArea(_ioas: number, area: Area): void {
    this.removedAreas.add(area);
    this.touched.add(area.pages);
  }

  /** An access pin holds pages. */
  addHold(hold: AccessHold): void {
    this.addedHolds.push(hold);
    this.touched.add(hold.pages);
  }

  /** Every hold of access pin (access, pin) goes. */
  removePin(access: number, pin: number, pagesIds: readonly number[]): void {
    this.removedPins.add(`${access}:${pin}`);
    for (const p of pagesIds) this.touched.add(p);
  }

  /** Whether `ioas` will have at least one domain after this command. */
  hasDomain(ioas: number): boolean {
    return this.domained.get(ioas) ?? (this.root.iopt.ioas.get(ioas)?.domains.length ?? 0) > 0;
  }

  /** `ioas` gains its first / loses its last domain: every page under its areas changes holder state. */
  setDomained(ioas: number, on: boolean): void {
    this.domained.set(ioas, on);
    for (const a of this.root.iopt.ioas.get(ioas)?.areas ?? []) this.touched.add(a.pages);
    for (const { ioas: i, area } of this.addedAreas) if (i === ioas) this.touched.add(area.pages);
  }

  /** The area a (ioas, iova) reference of an iopt_pages names, unless this command removes it. */
  private liveArea(ref: { readonly ioas: number; readonly iova: bigint }): Area | undefined {
    const ioas = this.root.iopt.ioas.get(ref.ioas);
    const area = ioas === undefined ? undefined : areaAt(ioas, ref.iova);
    return area === undefined || this.removedAreas.has(area) ? undefined : area;
  }

  /** The page intervals of `pages` that must be pinned after this command. */
  private required(pagesId: number): Interval[] {
    const pages = this.pagesOf(pagesId);
    const xs: Interval[] = [];
    for (const ref of pages.areas) {
      const area = this.liveArea(ref);
      if (area === undefined || !this.hasDomain(ref.ioas)) continue;
      const r = areaIndexRange(area);
      xs.push({ start: r.index, end: r.index + r.count });
    }
    for (const { ioas, area } of this.addedAreas) {
      if (area.pages !== pagesId || !this.hasDomain(ioas)) continue;
      const r = areaIndexRange(area);
      xs.push({ start: r.index, end: r.index + r.count });
    }
    for (const h of pages.holds)
      if (!this.removedPins.has(`${h.access}:${h.pin}`)) xs.push({ start: h.index, end: h.index + h.count });
    for (const h of this.addedHolds)
      if (h.pages === pagesId) xs.push({ start: h.index, end: h.index + h.count });
    return union(xs);
  }

  /** Whether `pages` has any holder (area or access pin) left after this command. */
  private alive(pagesId: number): boolean {
    const pages = this.pagesOf(pagesId);
    for (const ref of pages.areas) if (this.liveArea(ref) !== undefined) return true;
    for (const { area } of this.addedAreas) if (area.pages === pagesId) return true;
    for (const h of pages.holds) if (!this.removedPins.has(`${h.access}:${h.pin}`)) return true;
    for (const h of this.addedHolds) if (h.pages === pagesId) return true;
    return false;
  }

  /**
   * Pin and unpin every touched pages to its required set, charging
   * RLIMIT_MEMLOCK; emits `iopt.pages_unpinned`, `iopt.pages_pinned`.
   * Errors: EFAULT (pages not mapped / mm gone), ENOMEM (over the memlock
   * limit, or an injected allocation failure).
   */
  reconcile(): Errno | undefined {
    const ids = this.touched.size === 1 ? this.touched : [...this.touched].sort((a, b) => a - b);
    for (const id of ids) {
      const required = this.required(id);
      const current = pinnedIntervals(this.pinnedOf(id));
      for (const iv of subtract(current, required)) this.unpin(id, iv);
      for (const iv of subtract(required, current)) {
        const e = this.pin(id, iv);
        if (e) return e;
      }
    }
    this.touched.clear();
    return undefined;
  }

  /** Emit `iopt.pages_destroyed` for pages left without holders (call after the events that drop them). */
  destroyOrphans(ids: Iterable<number>): void {
    for (const id of new Set(ids))
      if (!this.alive(id)) this.emit({ type: "iopt.pages_destroyed", data: { pages: id } });
  }

  /**
   * Of `ids`, the pages left without any holder by this command; they are
   * no longer reconciled (their end, `ioas.unmapped.pagesDestroyed`,
   * unpins and uncharges whatever they still hold).
   */
  takeOrphans(ids: Iterable<number>): Set<number> {
    const out = new Set<number>();
    for (const id of ids) if (!out.has(id) && !this.alive(id)) out.add(id);
    for (const id of out) this.touched.delete(id);
    return out;
  }

  private unpin(id: number, iv: Interval): void {
    const count = iv.end - iv.start;
    this.pinned.set(id, removePinned(this.pinnedOf(id), iv.start, count));
    this.charge(this.pagesOf(id), -count);
    this.emit({
      type: "iopt.pages_unpinned",
      data: { pages: id, index: BigInt(iv.start), count: BigInt(count) },
    });
  }

  private pin(id: number, iv: Interval): Errno | undefined {
    const pages = this.pagesOf(id);
    const count = iv.end - iv.start;
    const step = this.ctx.step("iopt.pin_pages");
    if (step) return step;
    const runs = pinFrames(this.root, pages, iv.start, count, this.plan);
    if (isErrno(runs)) return runs;
    const over = this.charge(pages, count);
    if (over) return over;
    this.pinned.set(id, addPinned(this.pinnedOf(id), iv.start, runs));
    this.emit({ type: "iopt.pages_pinned", data: { pages: id, index: BigInt(iv.start), pfnRuns: runs } });
    return undefined;
  }

  /** Charge `n` (±) pages to the pages' account: ENOMEM past RLIMIT_MEMLOCK (`overMemlock`). */
  private charge(pages: Pages, n: number): Errno | undefined {
    if (pages.accountMode === ACCOUNT_NONE) return undefined;
    const key = `${pages.accountMode}:${pages.accountId}`;
    const pending = (this.charges.get(key) ?? 0) + n;
    this.charges.set(key, pending);
    if (n <= 0) return undefined;
    return overMemlock(this.root, pages.accountMode, pages.accountId, pages.lockLimit, pending);
  }

  /** The frames of `count` pages from `index` after this command's pins (for domain fills). */
  frames(pagesId: number, index: number, count: number) {
    return framesOf(this.pinnedOf(pagesId), index, count);
  }

  /** Every event of the command: the page faults first, then the rest in order. */
  finish(): IoptDecided[] {
    return !hasFaults(this.plan) ? this.events : [...faultEvents(this.plan), ...this.events];
  }
}
