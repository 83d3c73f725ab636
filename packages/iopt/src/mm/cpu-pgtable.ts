/**
 * The CPU page table of a process: x86-64 4-level paging (Intel SDM Vol. 3A
 * §4.5, "4-Level Paging and 5-Level Paging"), kept in RAM (`mm.ram`) so an
 * IOMMU walking it for SVA reads real bytes: a PML4, PDPTs, PDs and PTs of
 * 512 × 8-byte entries per 4 KiB frame, entry address bits 51:12.
 *
 * A process gets its table at its first SVA bind (`mm.pgd.allocated`, built
 * from the pages present then); from then on every mm event that changes a
 * present page rewrites the PTEs in the same evolve. Only present pages get
 * P = 1; a page of a VMA nobody touched has no PTE, which is what makes a
 * device fault on it.
 *
 * Entry formats, as Linux writes them (arch/x86/include/asm/pgtable_types.h):
 * - a PML4E/PDPTE/PDE pointing at a table: `_PAGE_TABLE` = P | RW | US | A | D
 *   (0x67) — permissions are decided at the leaf;
 * - a 4 KiB leaf: P | US | A, RW and D when the page may be written now
 *   (a writable VMA and a page the process owns alone — after fork, private
 *   pages are write-protected until a write breaks COW), XD (bit 63) always:
 *   the model has no PROT_EXEC, and Linux sets NX on every non-executable
 *   user mapping (`_PAGE_NX` in PAGE_SHARED/PAGE_COPY/PAGE_READONLY).
 *
 * Page-table frames are decided ahead, like data frames: the events that
 * may need new tables carry the frames to use (`pt: {pfn, count}`), taken
 * from the mm's frame allocator in decide (`ptFramesNeeded` counts them),
 * and evolve uses them in order (`PtAlloc`). Emptied tables are not freed
 * (Linux frees them in free_pgtables() only when a whole range goes).
 */
import type { FrameStore } from "@iommu-sim/eventlog";

/** x86-64 paging-entry bits of the low word (Intel SDM Vol. 3A Table 4-19/4-20). */
export const X86_PTE = {
  /** Present. */
  P: 1 << 0,
  /** Read/write: writes allowed. */
  RW: 1 << 1,
  /** User/supervisor: user-mode accesses allowed. */
  US: 1 << 2,
  /** Accessed. */
  A: 1 << 5,
  /** Dirty (leaf). */
  D: 1 << 6,
  /** Page size (a 2 MiB / 1 GiB leaf; never set here). */
  PS: 1 << 7,
} as const;

/** Execute-disable, bit 63: bit 31 of the high word. */
export const X86_PTE_XD_HI = 0x8000_0000;

/** Linux `_PAGE_TABLE` (P | RW | US | A | D = 0x67): the flags of an entry that points at a lower table. */
export const X86_TABLE_FLAGS = X86_PTE.P | X86_PTE.RW | X86_PTE.US | X86_PTE.A | X86_PTE.D;

/** The low flags of a user leaf: P | US | A, plus RW | D when writable. */
export function leafFlags(writable: boolean): number {
  return X86_PTE.P | X86_PTE.US | X86_PTE.A | (writable ? X86_PTE.RW | X86_PTE.D : 0);
}

/** The 64-bit leaf entry for 4 KiB frame `pfn` (see the module comment). */
export function x86Pte(pfn: number, writable: boolean): bigint {
  return (1n << 63n) | (BigInt(pfn) << 12n) | BigInt(leafFlags(writable));
}

/** The 64-bit entry pointing at the table in frame `pfn`. */
export function x86TableEntry(pfn: number): bigint {
  return (BigInt(pfn) << 12n) | BigInt(X86_TABLE_FLAGS);
}

/** 4 KiB pages covered by one entry of a level-`n` table (1: PT … 4: PML4). */
const SPAN = [0, 1, 512, 512 * 512, 512 * 512 * 512] as const;

/** Frames still free for new tables: the next one and the end (exclusive). */
export interface PtAlloc {
  next: number;
  readonly end: number;
}

function entryPa(table: number, vpn: number, level: 1 | 2 | 3 | 4): number {
  return table + (Math.floor(vpn / SPAN[level]) % 512) * 8;
}

/** The table an entry points at (PA), or -1 when it is not present. */
function next(ram: FrameStore, pa: number): number {
  const lo = ram.readU32(pa);
  if ((lo & X86_PTE.P) === 0) return -1;
  return (ram.readU32(pa + 4) & 0xfffff) * 0x1_0000_0000 + (lo >>> 12) * 4096;
}

/**
 * The PT (PA) holding page `vpn`'s leaf, or -1 when a level above is not
 * present (`alloc` absent) — with `alloc`, missing tables are created from
 * it (zeroed: frames of the allocator were never used) and linked in.
 * @returns the PT's PA and the RAM to use afterwards.
 */
function ptFor(
  ram: FrameStore,
  pgd: number,
  vpn: number,
  alloc: PtAlloc | undefined,
): { ram: FrameStore; pt: number } {
  let table = pgd;
  for (const level of [4, 3, 2] as const) {
    const pa = entryPa(table, vpn, level);
    let t = next(ram, pa);
    if (t < 0) {
      if (alloc === undefined || alloc.next >= alloc.end) return { ram, pt: -1 };
      const pfn = alloc.next++;
      ram = ram.writeU64Halves(
        pa,
        ((pfn % 0x100000) * 4096 + X86_TABLE_FLAGS) >>> 0,
        Math.floor(pfn / 0x100000),
      );
      t = pfn * 4096;
    }
    table = t;
  }
  return { ram, pt: table };
}

/**
 * Write the leaves of pages [vpn, vpn + count): frame `pfn + i` with
 * `writable(vpn + i)`, or cleared when `pfn` is -1 (then no table is
 * created). One walk per 512-page PT.
 * @returns the RAM to use afterwards.
 */
export function setLeaves(
  ram: FrameStore,
  pgd: number,
  vpn: number,
  count: number,
  pfn: number,
  writable: (vpn: number) => boolean,
  alloc?: PtAlloc,
): FrameStore {
  let done = 0;
  while (done < count) {
    const v = vpn + done;
    const n = Math.min(512 - (v % 512), count - done);
    const r = ptFor(ram, pgd, v, pfn < 0 ? undefined : alloc);
    ram = r.ram;
    if (r.pt >= 0) {
      const base = pfn < 0 ? -1 : pfn + done;
      ram = ram.edit(r.pt / 4096, (view) => {
        for (let k = 0; k < n; k++) {
          const slot = ((v + k) % 512) * 8;
          if (base < 0) {
            view.setUint32(slot, 0, true);
            view.setUint32(slot + 4, 0, true);
            continue;
          }
          const f = base + k;
          view.setUint32(slot, ((f % 0x100000) * 4096 + leafFlags(writable(v + k))) >>> 0, true);
          view.setUint32(slot + 4, (X86_PTE_XD_HI | Math.floor(f / 0x100000)) >>> 0, true);
        }
      });
    }
    done += n;
  }
  return ram;
}

/** Clear RW (and D) in the present leaves of [vpn, vpn + count) for which `keep(vpn)` is false: write protection (fork's COW). */
export function writeProtect(
  ram: FrameStore,
  pgd: number,
  vpn: number,
  count: number,
  keep: (vpn: number) => boolean,
): FrameStore {
  let done = 0;
  while (done < count) {
    const v = vpn + done;
    const n = Math.min(512 - (v % 512), count - done);
    const { pt } = ptFor(ram, pgd, v, undefined);
    if (pt >= 0) {
      ram = ram.edit(pt / 4096, (view) => {
        for (let k = 0; k < n; k++) {
          const slot = ((v + k) % 512) * 8;
          const lo = view.getUint32(slot, true);
          if ((lo & X86_PTE.P) !== 0 && !keep(v + k))
            view.setUint32(slot, (lo & ~(X86_PTE.RW | X86_PTE.D)) >>> 0, true);
        }
      });
    }
    done += n;
  }
  return ram;
}

/**
 * How many new table frames giving leaves to `runs` (4 KiB page runs) needs
 * in the table at `pgd` (-1 for a table not built yet: every level is new):
 * the same walk `setLeaves` makes with an allocator, without writing.
 */
export function ptFramesNeeded(
  ram: FrameStore,
  pgd: number,
  runs: Iterable<{ readonly vpn: number; readonly count: number }>,
): number {
  const made = new Set<number>();
  for (const run of runs) {
    let v = run.vpn;
    const end = run.vpn + run.count;
    while (v < end) {
      let table = pgd;
      for (const level of [4, 3, 2] as const) {
        // A table created earlier in this count, keyed by the VA prefix it covers.
        const key = level * 2 ** 36 + Math.floor(v / SPAN[level]);
        const t = made.has(key) || table < 0 ? -1 : next(ram, entryPa(table, v, level));
        if (t < 0) made.add(key);
        table = t;
      }
      v += 512 - (v % 512);
    }
  }
  return made.size;
}

/**
 * The leaf entry of page `vpn` in the table at `pgd` (0n when a level is
 * not present): what the MMU — or an IOMMU walking the table — reads.
 */
export function readLeaf(ram: FrameStore, pgd: number, vpn: number): bigint {
  const { pt } = ptFor(ram, pgd, vpn, undefined);
  return pt < 0 ? 0n : ram.readU64(pt + (vpn % 512) * 8);
}
