/**
 * A device's page fault on a process's address space (SVA), as the IOMMU
 * core resolves it: Linux drivers/iommu/iommu-sva.c iommu_sva_handle_mm()
 * for each page of a fault group — VMA lookup, the access check against
 * the VMA's flags, handle_mm_fault() — with errors sticky: the first page
 * that fails stops the group and the response is INVALID
 * (iommu_sva_handle_iopf()).
 *
 * handle_mm_fault() here: a page the mm does not hold is faulted in (a new
 * anonymous frame, a private copy of a file page, or a shared object page,
 * `mm.faulted`); a write to a page shared after fork breaks COW
 * (`mm.faulted` with `copyFrom`); a page the mm holds but whose PTE is
 * missing (a shared page another process faulted in) only gets its PTE
 * (`mm.populated`, a minor fault); a request the PTE already allows
 * (a spurious fault: the device raced a CPU fault) changes nothing.
 * A read of untouched anonymous memory gets a frame of its own (Linux maps
 * the shared zero page read-only; the model has no zero page).
 */
import { isErrno } from "@iommu-sim/uapi";
import { readLeaf, X86_PTE } from "./cpu-pgtable";
import type { MmEvent } from "./decide";
import { faultEvents, hasFaults, lookupPage, newFaultPlan, resolvePages } from "./fault";
import { populateEvent } from "./pgd";
import { readPte } from "./pte";
import { findVma, type MmState, PAGE_SIZE, PROT_READ, PROT_WRITE } from "./state";

/** One page of a fault group: its address (bytes) and the access the device asked for. */
export interface IommuFaultPage {
  readonly addr: bigint;
  readonly read: boolean;
  readonly write: boolean;
  readonly exec: boolean;
}

/** Linux `enum iommu_page_response_code`: SUCCESS 0, INVALID 1. */
export const IOMMU_PAGE_RESP = { SUCCESS: 0, INVALID: 1 } as const;

/** What handling a fault group decided. */
export interface IommuFaultOutcome {
  /** The mm events that fault the pages in and write their PTEs (before the first failing page). */
  readonly events: MmEvent[];
  /** The response: SUCCESS when every page was resolved, INVALID at the first that was not. */
  readonly code: number;
  /** Whether a frame is allocated (the caller's `mm.fault` fault point). */
  readonly allocates: boolean;
  /** Why the group failed, for people. */
  readonly reason?: string;
}

/** Whether the PTE of `vpn` already allows the access (a spurious fault). */
function pteAllows(mm: MmState, pgd: number, vpn: number, write: boolean): boolean {
  const pte = readLeaf(mm.ram, pgd, vpn);
  const lo = Number(pte & 0xffffffffn);
  return (lo & X86_PTE.P) !== 0 && (!write || (lo & X86_PTE.RW) !== 0);
}

/**
 * Resolve the pages of one fault group of process `pid` (an SVA-bound mm:
 * it has a CPU page table). Pure: the events carry every frame chosen.
 */
export function handleIommuFault(
  mm: MmState,
  pid: number,
  pages: readonly IommuFaultPage[],
): IommuFaultOutcome {
  const proc = mm.processes.get(pid);
  // mmget_not_zero() failed: the mm is gone.
  if (proc?.pgd === undefined)
    return { events: [], code: IOMMU_PAGE_RESP.INVALID, allocates: false, reason: "no mm" };
  const plan = newFaultPlan(mm);
  const populate: number[] = [];
  let failed: string | undefined;
  for (const page of pages) {
    const va = Number(page.addr & ~0xfffn);
    const vpn = va / PAGE_SIZE;
    const vma = page.addr < 2n ** 47n ? findVma(proc.vmas, va) : undefined;
    if (vma === undefined) {
      failed = `no VMA at 0x${page.addr.toString(16)}`;
      break;
    }
    // access_flags & ~vma->vm_flags: the model's VMAs have no VM_EXEC.
    if (
      (page.read && (vma.prot & PROT_READ) === 0) ||
      (page.write && (vma.prot & PROT_WRITE) === 0) ||
      page.exec
    ) {
      failed = `access not permitted by the VMA at 0x${page.addr.toString(16)}`;
      break;
    }
    if (pteAllows(mm, proc.pgd, vpn, page.write) || populate.includes(vpn)) continue;
    const held = lookupPage(mm, pid, vpn);
    const minor =
      typeof held === "number" && held >= 0 && (!page.write || vma.shared || isExclusive(mm, pid, vpn));
    if (minor) {
      populate.push(vpn);
      continue;
    }
    const runs = resolvePages(mm, pid, va, 1, page.write ? "write" : "pin", plan);
    if (isErrno(runs)) {
      failed = runs.reason ?? runs.name;
      break;
    }
  }
  const allocates = hasFaults(plan);
  const events: MmEvent[] = faultEvents(plan);
  for (const vpn of populate) {
    const { event, frames } = populateEvent(mm, pid, vpn, 1, plan.cursor);
    plan.cursor += frames;
    events.push(event);
  }
  const code = failed === undefined ? IOMMU_PAGE_RESP.SUCCESS : IOMMU_PAGE_RESP.INVALID;
  return failed === undefined ? { events, code, allocates } : { events, code, allocates, reason: failed };
}

function isExclusive(mm: MmState, pid: number, vpn: number): boolean {
  return readPte(mm.processes.get(pid)!.pt, vpn).exclusive;
}
