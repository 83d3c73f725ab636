/**
 * The state of the `mm` subsystem: simulated processes (address spaces),
 * shared memory objects, and physical RAM.
 *
 * Units: user virtual addresses and lengths are JS numbers of bytes (user
 * space lives below 2^47, so they are exact); page numbers count 4 KiB
 * pages; PFNs count 4 KiB physical frames.
 */
import { FrameStore } from "@iommu-sim/eventlog";

/** The CPU page size the model uses (x86-64 / arm64 4K: PAGE_SIZE). */
export const PAGE_SIZE = 4096;
/** log2(PAGE_SIZE). */
export const PAGE_SHIFT = 12;
/** Linux's default RLIMIT_MEMLOCK since 5.16 (MLOCK_LIMIT): 8 MiB. */
export const DEFAULT_MEMLOCK_LIMIT = 8n * 1024n * 1024n;
/** Top of the mmap area: mappings without MAP_FIXED are placed top-down below it. */
export const MMAP_BASE = 0x7f00_0000_0000;
/** Lowest address mmap hands out (vm.mmap_min_addr = 64 KiB). */
export const MMAP_MIN_ADDR = 0x1_0000;
/** End of the user address space (x86-64 4-level paging, TASK_SIZE). */
export const TASK_SIZE = 0x7fff_ffff_f000;

/** PROT_READ. */
export const PROT_READ = 1;
/** PROT_WRITE. */
export const PROT_WRITE = 2;

/**
 * A VMA (struct vm_area_struct): [start, end) in bytes, page aligned.
 * `object` backs it (a file, or the shmem object of a MAP_SHARED anonymous
 * mapping); `pgoff` is the byte offset of `start` within that object.
 */
export interface Vma {
  readonly start: number;
  readonly end: number;
  readonly prot: number;
  readonly shared: boolean;
  readonly object?: number;
  readonly pgoff: number;
}

/** One simulated process (its mm_struct and credentials). */
export interface Process {
  readonly pid: number;
  /** Owner uid (per-user RLIMIT_MEMLOCK accounting, user->locked_vm). */
  readonly uid: number;
  /** RLIMIT_MEMLOCK in bytes. */
  readonly memlockLimit: bigint;
  /** CAP_IPC_LOCK: pins are not accounted (IOPT_PAGES_ACCOUNT_NONE). */
  readonly capIpcLock: boolean;
  /** VMAs sorted by start, disjoint. */
  readonly vmas: readonly Vma[];
  /** Private page table: VA page number → PTE (see pte.ts). */
  readonly pt: FrameStore;
  /**
   * PA of the x86-64 PML4 in RAM (CR3's table; Linux `mm->pgd`), built at
   * the first SVA bind (`mm.pgd.allocated`) and kept current from then on;
   * absent before (see cpu-pgtable.ts).
   */
  readonly pgd?: number;
}

/** A memory object mapped by MAP_SHARED or file mappings: page cache or shmem. */
export interface MmObject {
  readonly id: number;
  readonly kind: "file" | "shmem";
  /** Size in bytes. */
  readonly length: number;
  /** Page offset → PTE (pfn; EXCLUSIVE unused). */
  readonly pages: FrameStore;
}

/** The `mm` slice of the root state (root key `mm`). */
export interface MmState {
  /** Physical RAM bytes by physical address; untouched frames read as zeros. */
  readonly ram: FrameStore;
  /** Next free PFN of the bump frame allocator (frames are never reused). */
  readonly nextPfn: number;
  readonly processes: ReadonlyMap<number, Process>;
  readonly objects: ReadonlyMap<number, MmObject>;
  /** Next id for shmem objects created by MAP_SHARED anonymous mmaps (counts down from 2^31 − 1 to stay clear of file ids). */
  readonly nextShmem: number;
}

/** First PFN handed out: frames below 1 MiB are left to firmware, as on a PC. */
export const FIRST_PFN = 0x100;

/** The initial `mm` state: no processes, empty RAM. */
export function initialMmState(): MmState {
  return {
    ram: FrameStore.empty(),
    nextPfn: FIRST_PFN,
    processes: new Map(),
    objects: new Map(),
    nextShmem: 2 ** 31 - 1,
  };
}

/** The VMA containing byte address `va`, or undefined. Binary search. */
export function findVma(vmas: readonly Vma[], va: number): Vma | undefined {
  let lo = 0;
  let hi = vmas.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = vmas[mid]!;
    if (va < v.start) hi = mid - 1;
    else if (va >= v.end) lo = mid + 1;
    else return v;
  }
  return undefined;
}

// The persistent Map updates this package's modules import from here.
export { mapDelete, mapSet } from "@iommu-sim/eventlog";
