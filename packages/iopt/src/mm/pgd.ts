/**
 * Keeping a process's CPU page table (cpu-pgtable.ts) in step with the mm:
 * which pages are present and writable, building the table at the first
 * SVA bind, and the evolve-side updates the other mm events make.
 *
 * A page is present when the process's private table has it, or — in a
 * MAP_SHARED VMA — when the process faulted the object's page in itself;
 * writable when its VMA is writable and the page is the process's alone
 * (shared mappings, and private pages with EXCLUSIVE: after fork private
 * pages are write-protected, Linux copy_present_pte() → ptep_set_wrprotect()).
 */
import type { FrameStore, SubsystemDecideContext } from "@iommu-sim/eventlog";
import { type Errno, errno } from "@iommu-sim/uapi";
import { type PtAlloc, ptFramesNeeded, setLeaves, writeProtect } from "./cpu-pgtable";
import type { FaultedData, PtFrames } from "./fault";
import { PTES_PER_FRAME, readPte, words } from "./pte";
import { findVma, type MmState, mapSet, PAGE_SIZE, PROT_WRITE, type Process } from "./state";

/** One present page of a process (4 KiB): VA page number, frame, writable now. */
export interface PresentPage {
  readonly vpn: number;
  readonly pfn: number;
  readonly writable: boolean;
}

/** Whether a present page `vpn` of `proc` may be written now (see the module comment). */
export function pageWritable(proc: Process, vpn: number, pt: FrameStore = proc.pt): boolean {
  const vma = findVma(proc.vmas, vpn * PAGE_SIZE);
  if (vma === undefined || (vma.prot & PROT_WRITE) === 0) return false;
  return vma.shared || readPte(pt, vpn).exclusive;
}

/**
 * The pages `proc` has present: its private PTEs (VA order), then the pages
 * of its MAP_SHARED VMAs present in their objects — what a CPU page table
 * built now holds (a shared page another process faulted in counts: the
 * table is built from the mm as it is, not from its fault history).
 */
export function presentPages(mm: MmState, proc: Process): PresentPage[] {
  const out: PresentPage[] = [];
  for (const [frame, bytes] of proc.pt.frames()) {
    const w = words(bytes);
    for (let i = 0; i < PTES_PER_FRAME; i++) {
      const lo = w[i * 2]!;
      if (lo === 0) continue;
      const vpn = frame * PTES_PER_FRAME + i;
      out.push({ vpn, pfn: lo - 1, writable: pageWritable(proc, vpn) });
    }
  }
  for (const vma of proc.vmas) {
    if (!vma.shared || vma.object === undefined) continue;
    const obj = mm.objects.get(vma.object);
    if (obj === undefined) continue;
    for (let va = vma.start; va < vma.end; va += PAGE_SIZE) {
      const index = (vma.pgoff + va - vma.start) / PAGE_SIZE;
      if (index * PAGE_SIZE >= obj.length) break;
      const pfn = readPte(obj.pages, index).pfn;
      if (pfn >= 0) out.push({ vpn: va / PAGE_SIZE, pfn, writable: (vma.prot & PROT_WRITE) !== 0 });
    }
  }
  return out;
}

/** The `mm.pgd.allocated` event. */
export interface PgdAllocated {
  type: "mm.pgd.allocated";
  data: { pid: number; pgd: bigint; frames: number };
}

/**
 * Give process `pid` its CPU page table (Linux keeps `mm->pgd` from
 * fork/exec; the model builds it on first need — an SVA bind): the PML4 at
 * the mm's next free frame, then the tables its present pages need.
 * Fault point `mm.pgd_alloc` (pgd_alloc() → ENOMEM).
 * @returns [] when the process has its table already; ESRCH for no process.
 */
export function decidePgdAlloc(
  mm: MmState,
  pid: number,
  ctx: SubsystemDecideContext<unknown>,
): PgdAllocated[] | Errno {
  const proc = mm.processes.get(pid);
  if (proc === undefined) return errno("ESRCH", `no process ${pid}`);
  if (proc.pgd !== undefined) return [];
  const e = ctx.step("mm.pgd_alloc");
  if (e) return e;
  const tables = ptFramesNeeded(
    mm.ram,
    -1,
    presentPages(mm, proc).map((p) => ({ vpn: p.vpn, count: 1 })),
  );
  return [
    {
      type: "mm.pgd.allocated",
      data: { pid, pgd: BigInt(mm.nextPfn * PAGE_SIZE), frames: 1 + tables },
    },
  ];
}

function allocOf(pt: PtFrames | undefined): PtAlloc {
  return pt === undefined ? { next: 0, end: 0 } : { next: pt.pfn, end: pt.pfn + pt.count };
}

/** Evolve `mm.pgd.allocated`: a zeroed PML4 and a leaf for every present page. */
export function buildPgd(mm: MmState, d: PgdAllocated["data"]): MmState {
  const proc = mm.processes.get(d.pid)!;
  const pgd = Number(d.pgd);
  const first = pgd / PAGE_SIZE;
  let ram = mm.ram.write(pgd, new Uint8Array(PAGE_SIZE));
  const alloc: PtAlloc = { next: first + 1, end: first + d.frames };
  for (const p of presentPages(mm, proc)) ram = setLeaves(ram, pgd, p.vpn, 1, p.pfn, () => p.writable, alloc);
  const processes = mapSet(mm.processes, d.pid, { ...proc, pgd });
  return { ...mm, ram, processes, nextPfn: Math.max(mm.nextPfn, first + d.frames) };
}

/**
 * Evolve the leaves of an `mm.faulted` (already applied to `mm`'s private
 * and object tables): each run of the process's own VA space gets PTEs.
 */
export function faultedLeaves(mm: MmState, d: FaultedData): MmState {
  const proc = mm.processes.get(d.pid);
  if (proc?.pgd === undefined) return mm;
  let ram = mm.ram;
  const alloc = allocOf(d.pt);
  const writable = (vpn: number) => pageWritable(proc, vpn);
  for (const run of d.runs) {
    if (run.object !== undefined) continue;
    ram = setLeaves(ram, proc.pgd, Number(run.va) / PAGE_SIZE, run.count, run.pfn, writable, alloc);
  }
  const nextPfn = d.pt === undefined ? mm.nextPfn : Math.max(mm.nextPfn, d.pt.pfn + d.pt.count);
  return { ...mm, ram, nextPfn };
}

/** The `mm.populated` event (minor faults: PTEs for pages the mm holds already). */
export interface Populated {
  type: "mm.populated";
  data: { pid: number; va: bigint; count: number; pt?: PtFrames };
}

/**
 * `mm.populated` for pages [vpn, vpn + count) of `pid`, taking page-table
 * frames from `cursor` (the caller's next free frame). @returns the event
 * and the frames it takes.
 */
export function populateEvent(
  mm: MmState,
  pid: number,
  vpn: number,
  count: number,
  cursor: number,
): { event: Populated; frames: number } {
  const pgd = mm.processes.get(pid)?.pgd;
  const need = pgd === undefined ? 0 : ptFramesNeeded(mm.ram, pgd, [{ vpn, count }]);
  const data: Populated["data"] = { pid, va: BigInt(vpn * PAGE_SIZE), count };
  if (need > 0) data.pt = { pfn: cursor, count: need };
  return { event: { type: "mm.populated", data }, frames: need };
}

/** Evolve `mm.populated`: a leaf for each page that is present in the mm. */
export function populate(mm: MmState, d: Populated["data"], lookup: (vpn: number) => number): MmState {
  const proc = mm.processes.get(d.pid);
  if (proc?.pgd === undefined) return mm;
  let ram = mm.ram;
  const alloc = allocOf(d.pt);
  const first = Number(d.va) / PAGE_SIZE;
  for (let vpn = first; vpn < first + d.count; vpn++) {
    const pfn = lookup(vpn);
    if (pfn >= 0) ram = setLeaves(ram, proc.pgd, vpn, 1, pfn, () => pageWritable(proc, vpn), alloc);
  }
  const nextPfn = d.pt === undefined ? mm.nextPfn : Math.max(mm.nextPfn, d.pt.pfn + d.pt.count);
  return { ...mm, ram, nextPfn };
}

/** Clear the leaves of [addr, addr + length) (munmap, or MAP_FIXED replacing a range). */
export function clearLeaves(
  ram: FrameStore,
  proc: Process | undefined,
  addr: number,
  length: number,
): FrameStore {
  if (proc?.pgd === undefined) return ram;
  return setLeaves(ram, proc.pgd, addr / PAGE_SIZE, length / PAGE_SIZE, -1, () => false);
}

/**
 * Write-protect the parent's private pages after fork: the leaves of pages
 * present but no longer EXCLUSIVE in `pt` (the parent's private table after
 * the fork). Leaves of MAP_SHARED pages, which share the PT frames, keep R/W.
 */
export function forkWriteProtect(ram: FrameStore, parent: Process, pt: FrameStore): FrameStore {
  if (parent.pgd === undefined) return ram;
  const keep = (vpn: number) => {
    const pte = readPte(pt, vpn);
    return pte.pfn < 0 || pte.exclusive;
  };
  for (const [frame] of pt.frames())
    ram = writeProtect(ram, parent.pgd, frame * PTES_PER_FRAME, PTES_PER_FRAME, keep);
  return ram;
}
