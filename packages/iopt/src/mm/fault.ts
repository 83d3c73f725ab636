/**
 * Resolving user pages to frames, faulting them in where needed — what
 * pin_user_pages()/get_user_pages() and handle_mm_fault() do (Linux
 * mm/gup.c, mm/memory.c), decided ahead of time: the frames chosen are
 * recorded in a `FaultPlan` and become `mm.faulted` events, so evolve only
 * installs what decide chose.
 */
import { type Errno, errno } from "@iommu-sim/uapi";
import { ptFramesNeeded } from "./cpu-pgtable";
import { PTES_PER_FRAME, readPte, words } from "./pte";
import { findVma, type MmState, PAGE_SIZE, PROT_READ, PROT_WRITE, type Vma } from "./state";

/** A run of `count` contiguous 4 KiB frames from `pfn`. */
export interface PfnRun {
  pfn: number;
  count: number;
}

/** One fault run as carried by `mm.faulted`. */
export interface FaultRun {
  va: bigint;
  count: number;
  pfn: number;
  shared: boolean;
  copyFrom?: number[];
  /** Set for faults of an object itself: `va` is then the byte offset in it. */
  object?: number;
}

/** Pages faulted earlier in the same command (so a page is never faulted twice). */
interface OverlayRun {
  /** `p<pid>` for a private page table, `o<object>` for a shared object. */
  readonly key: string;
  readonly index: number;
  readonly count: number;
  readonly pfn: number;
}

/**
 * The frames one command allocates. `cursor` is the next PFN; `faults`
 * groups fault runs by process, created at the first fault (most commands
 * fault nothing: a map of already-present pages, the VMM's hot path).
 * Create with `newFaultPlan(mm)`; ask `hasFaults(plan)`.
 */
export interface FaultPlan {
  cursor: number;
  faults: Map<number, FaultRun[]> | undefined;
  readonly overlay: OverlayRun[];
  /** The mm the plan was made on (faultEvents reads the CPU page tables of SVA-bound processes). */
  readonly mm: MmState;
}

/** An empty plan allocating from the mm's next free frame. */
export function newFaultPlan(mm: MmState): FaultPlan {
  return { cursor: mm.nextPfn, faults: undefined, overlay: [], mm };
}

/** Whether the plan faulted any page in (so `faultEvents(plan)` is not empty). */
export function hasFaults(plan: FaultPlan): boolean {
  return plan.faults !== undefined && plan.faults.size > 0;
}

/** How the pages are used: `write` stores, `pin` is a FOLL_PIN|FOLL_LONGTERM pin (`pinWrite` with FOLL_WRITE). */
export type FaultKind = "write" | "pin" | "pinWrite";

/** Append `pfn,count` to `runs`, merging with the last run when contiguous. */
export function pushRun(runs: PfnRun[], pfn: number, count: number): void {
  const last = runs[runs.length - 1];
  if (last !== undefined && last.pfn + last.count === pfn) last.count += count;
  else runs.push({ pfn, count });
}

function overlayLookup(plan: FaultPlan, key: string, index: number): number {
  for (const o of plan.overlay) {
    if (o.key === key && index >= o.index && index < o.index + o.count) return o.pfn + (index - o.index);
  }
  return -1;
}

/** Whether the overlay holds any page of `key` in [start, end). */
function overlayHits(plan: FaultPlan, key: string, start: number, end: number): boolean {
  for (const o of plan.overlay) if (o.key === key && o.index < end && o.index + o.count > start) return true;
  return false;
}

function allocate(
  plan: FaultPlan,
  pid: number,
  vpn: number,
  count: number,
  shared: boolean,
  key: string,
  index: number,
  copyFrom: number | undefined,
  object?: number,
): number {
  const pfn = plan.cursor;
  plan.cursor += count;
  plan.faults ??= new Map();
  let runs = plan.faults.get(pid);
  if (runs === undefined) {
    runs = [];
    plan.faults.set(pid, runs);
  }
  const last = runs[runs.length - 1];
  const va = BigInt(vpn * PAGE_SIZE);
  if (
    last !== undefined &&
    last.object === object &&
    last.shared === shared &&
    last.pfn + last.count === pfn &&
    last.va + BigInt(last.count * PAGE_SIZE) === va &&
    (last.copyFrom === undefined) === (copyFrom === undefined)
  ) {
    last.count += count;
    if (copyFrom !== undefined) last.copyFrom!.push(copyFrom);
  } else {
    const run: FaultRun =
      copyFrom === undefined ? { va, count, pfn, shared } : { va, count, pfn, shared, copyFrom: [copyFrom] };
    if (object !== undefined) run.object = object;
    runs.push(run);
  }
  const lastO = plan.overlay[plan.overlay.length - 1];
  if (
    lastO !== undefined &&
    lastO.key === key &&
    lastO.index + lastO.count === index &&
    lastO.pfn + lastO.count === pfn
  ) {
    plan.overlay[plan.overlay.length - 1] = { ...lastO, count: lastO.count + count };
  } else {
    plan.overlay.push({ key, index, count, pfn });
  }
  return pfn;
}

/**
 * The frames behind `npages` user pages from `va` (4 KiB aligned, bytes) in
 * process `pid`, faulting in (and breaking COW for writes and long-term
 * pins: Linux's "unshare", mm/gup.c gup_must_unshare()) as needed.
 * @returns PFN runs covering the pages in order, or EFAULT for an address
 *   with no VMA, a write to a read-only VMA, or a page past the end of its
 *   object, or a process that no longer exists (its mm is gone, as
 *   pin_user_pages_remote() fails once the mm is dead).
 */
export function resolvePages(
  mm: MmState,
  pid: number,
  va: number,
  npages: number,
  kind: FaultKind,
  plan: FaultPlan,
): PfnRun[] | Errno {
  const proc = mm.processes.get(pid);
  if (proc === undefined) return errno("EFAULT", `process ${pid} has no mm`);
  const out: PfnRun[] = [];
  const needWrite = kind !== "pin";
  let vpn = va / PAGE_SIZE;
  const end = vpn + npages;
  while (vpn < end) {
    const vma = findVma(proc.vmas, vpn * PAGE_SIZE);
    if (vma === undefined) return errno("EFAULT", `no mapping at 0x${(vpn * PAGE_SIZE).toString(16)}`);
    if ((vma.prot & (PROT_READ | PROT_WRITE)) === 0 || (needWrite && (vma.prot & PROT_WRITE) === 0))
      return errno("EFAULT", `access not permitted at 0x${(vpn * PAGE_SIZE).toString(16)}`);
    const stop = Math.min(end, vma.end / PAGE_SIZE);
    const r = vma.shared
      ? walkShared(mm, pid, vma, vpn, stop, plan, out)
      : walkPrivate(mm, pid, vma, vpn, stop, plan, out);
    if (r !== undefined) return r;
    vpn = stop;
  }
  return out;
}

function walkShared(
  mm: MmState,
  pid: number,
  vma: Vma,
  vpn: number,
  stop: number,
  plan: FaultPlan,
  out: PfnRun[],
): Errno | undefined {
  const obj = mm.objects.get(vma.object!)!;
  const key = `o${obj.id}`;
  for (; vpn < stop; vpn++) {
    const index = (vma.pgoff + vpn * PAGE_SIZE - vma.start) / PAGE_SIZE;
    if (index * PAGE_SIZE >= obj.length) return errno("EFAULT", "page beyond the end of the object (SIGBUS)");
    let pfn = plan.overlay.length === 0 ? -1 : overlayLookup(plan, key, index);
    if (pfn < 0) pfn = readPte(obj.pages, index).pfn;
    if (pfn < 0) pfn = allocate(plan, pid, vpn, 1, true, key, index, undefined);
    pushRun(out, pfn, 1);
  }
  return undefined;
}

/** Overlay keys of private memory by pid, built once per pid (not a string per pinned range on the map hot path). */
const PROCESS_KEYS: string[] = [];

function processKey(pid: number): string {
  let k = PROCESS_KEYS[pid];
  if (k === undefined) {
    k = `p${pid}`;
    if (Number.isInteger(pid) && pid >= 0 && pid < 1 << 16) PROCESS_KEYS[pid] = k;
  }
  return k;
}

/** Up to this many pages of one page-table frame are read without a typed-array view. */
const FEW_PAGES = 4;

function walkPrivate(
  mm: MmState,
  pid: number,
  vma: Vma,
  vpn: number,
  stop: number,
  plan: FaultPlan,
  out: PfnRun[],
): Errno | undefined {
  const proc = mm.processes.get(pid)!;
  const key = processKey(pid);
  const obj = vma.object === undefined ? undefined : mm.objects.get(vma.object);
  while (vpn < stop) {
    const frame = Math.floor(vpn / PTES_PER_FRAME);
    const chunkEnd = Math.min(stop, (frame + 1) * PTES_PER_FRAME);
    const bytes = proc.pt.peek(frame);
    const fresh = plan.overlay.length === 0 || !overlayHits(plan, key, vpn, chunkEnd);
    if (bytes === undefined && obj === undefined && fresh) {
      // Untouched anonymous memory: the whole chunk faults in contiguously.
      const n = chunkEnd - vpn;
      pushRun(out, allocate(plan, pid, vpn, n, false, key, vpn, undefined), n);
      vpn = chunkEnd;
      continue;
    }
    // A few pages are read word by word: cheaper than a typed-array view of the frame.
    const w = bytes === undefined || chunkEnd - vpn <= FEW_PAGES ? undefined : words(bytes);
    for (; vpn < chunkEnd; vpn++) {
      let pfn = fresh ? -1 : overlayLookup(plan, key, vpn);
      if (pfn < 0) {
        const slot = (vpn % PTES_PER_FRAME) * 2;
        const lo = w !== undefined ? w[slot]! : bytes === undefined ? 0 : proc.pt.readU32(vpn * 8);
        if (lo !== 0) {
          const hi = w !== undefined ? w[slot + 1]! : proc.pt.readU32(vpn * 8 + 4);
          // Present: reuse if exclusive, else break COW (write) or unshare (long-term pin).
          pfn = (hi & 1) !== 0 ? lo - 1 : allocate(plan, pid, vpn, 1, false, key, vpn, lo - 1);
        } else if (obj !== undefined) {
          const index = (vma.pgoff + vpn * PAGE_SIZE - vma.start) / PAGE_SIZE;
          if (index * PAGE_SIZE >= obj.length)
            return errno("EFAULT", "page beyond the end of the file (SIGBUS)");
          const src = readPte(obj.pages, index).pfn;
          pfn = allocate(plan, pid, vpn, 1, false, key, vpn, src < 0 ? undefined : src);
        } else {
          pfn = allocate(plan, pid, vpn, 1, false, key, vpn, undefined);
        }
      }
      pushRun(out, pfn, 1);
    }
  }
  return undefined;
}

/**
 * The frames behind pages [index, index + npages) of file/shmem object
 * `object` (IOMMU_IOAS_MAP_FILE; Linux pages.c pfn_reader_user_pin() with
 * memfd_pin_folios()), allocating page-cache frames for untouched pages.
 * Faults are grouped under process `pid` (the caller, as accounting is).
 * @returns PFN runs, or EBADF for no such object, EINVAL for pages past its
 *   end (memfd_pin_folios() → shmem_get_folio() refuses an index at or past
 *   i_size with -EINVAL; a file pin has no EFAULT case).
 */
export function resolveObjectPages(
  mm: MmState,
  pid: number,
  object: number,
  index: number,
  npages: number,
  plan: FaultPlan,
): PfnRun[] | Errno {
  const obj = mm.objects.get(object);
  if (obj === undefined) return errno("EBADF", `no file ${object}`);
  if ((index + npages) * PAGE_SIZE > obj.length) return errno("EINVAL", "pages beyond the end of the file");
  const key = `o${object}`;
  const out: PfnRun[] = [];
  for (let i = index; i < index + npages; i++) {
    let pfn = plan.overlay.length === 0 ? -1 : overlayLookup(plan, key, i);
    if (pfn < 0) pfn = readPte(obj.pages, i).pfn;
    if (pfn < 0) pfn = allocate(plan, pid, i, 1, true, key, i, undefined, object);
    pushRun(out, pfn, 1);
  }
  return out;
}

/** The frame behind page `index` of object `object` without faulting: a PFN, -1 (zeros), or EFAULT. */
export function lookupObjectPage(mm: MmState, object: number, index: number): number | Errno {
  const obj = mm.objects.get(object);
  if (obj === undefined || index * PAGE_SIZE >= obj.length) return errno("EFAULT", "no such file page");
  return readPte(obj.pages, index).pfn;
}

/**
 * The frame currently behind user page `vpn` without faulting (what a read
 * sees): a PFN, -1 for a page that reads as zeros (not yet faulted in), or
 * EFAULT when no readable VMA covers it.
 */
export function lookupPage(mm: MmState, pid: number, vpn: number): number | Errno {
  const proc = mm.processes.get(pid);
  if (proc === undefined) return errno("EFAULT", `process ${pid} has no mm`);
  const vma = findVma(proc.vmas, vpn * PAGE_SIZE);
  if (vma === undefined || (vma.prot & PROT_READ) === 0)
    return errno("EFAULT", `no readable mapping at 0x${(vpn * PAGE_SIZE).toString(16)}`);
  const index = (vma.pgoff + vpn * PAGE_SIZE - vma.start) / PAGE_SIZE;
  const obj = vma.object === undefined ? undefined : mm.objects.get(vma.object);
  if (obj !== undefined && index * PAGE_SIZE >= obj.length) return errno("EFAULT", "beyond end of object");
  if (!vma.shared) {
    const pte = readPte(proc.pt, vpn);
    if (pte.pfn >= 0) return pte.pfn;
  }
  return obj === undefined ? -1 : readPte(obj.pages, index).pfn;
}

/** Page-table frames an event carries for a process's CPU page table (cpu-pgtable.ts). */
export interface PtFrames {
  pfn: number;
  count: number;
}

/** One `mm.faulted` event's data. */
export interface FaultedData {
  pid: number;
  runs: FaultRun[];
  pt?: PtFrames;
}

/**
 * The `mm.faulted` events of a plan (one per process, in first-fault
 * order). A process with a CPU page table (SVA-bound) also gets the frames
 * its new PTEs need for page tables, allocated after every data frame of
 * the plan — so call this last, once all pages are resolved.
 */
export function faultEvents(plan: FaultPlan): { type: "mm.faulted"; data: FaultedData }[] {
  if (plan.faults === undefined) return [];
  return [...plan.faults].map(([pid, runs]) => {
    const pgd = plan.mm.processes.get(pid)?.pgd;
    const data: FaultedData = { pid, runs };
    if (pgd !== undefined) {
      const pages = runs
        .filter((r) => r.object === undefined)
        .map((r) => ({ vpn: Number(r.va) / PAGE_SIZE, count: r.count }));
      const count = ptFramesNeeded(plan.mm.ram, pgd, pages);
      if (count > 0) {
        data.pt = { pfn: plan.cursor, count };
        plan.cursor += count;
      }
    }
    return { type: "mm.faulted" as const, data };
  });
}
