/**
 * Page-table entry formats of the two translation stages, as 64-bit
 * little-endian words. Hot paths handle an entry as two u32 halves
 * (`lo` = bits 31:0, `hi` = bits 63:32) to stay out of BigInt; the flag
 * constants below are positions in `lo` (XD is in `hi`).
 *
 * Source: VT-d spec rev 4.1 §9.7 (first-stage paging entries: the x86-64
 * IA-32e format) and §9.8 (second-stage paging entries); Linux
 * drivers/iommu/intel/iommu.h (`DMA_PTE_*`, `DMA_FL_PTE_*`).
 */

/** Second-stage entry bits (VT-d §9.8; Linux DMA_PTE_READ/WRITE/LARGE_PAGE/SNP). */
export const SL = {
  /** R: read permission. An entry with R = W = 0 is not present. */
  R: 1 << 0,
  /** W: write permission. */
  W: 1 << 1,
  /** X: execute permission (with ECAP.ERS). */
  X: 1 << 2,
  /** PS: page size — this entry maps a 2 MiB (level 2) or 1 GiB (level 3) page. */
  PS: 1 << 7,
  /** A: accessed (with SSADE). */
  A: 1 << 8,
  /** D: dirty (with SSADE). */
  D: 1 << 9,
  /** SNP: snoop (legacy mode; scalable mode uses PASID-entry PGSNP). */
  SNP: 1 << 11,
} as const;

/** First-stage entry bits of the low word (VT-d §9.7; x86-64 paging). */
export const FL = {
  /** P: present. */
  P: 1 << 0,
  /** R/W: writes allowed. */
  RW: 1 << 1,
  /** U/S: user-mode accesses allowed. */
  US: 1 << 2,
  /** PWT. */
  PWT: 1 << 3,
  /** PCD. */
  PCD: 1 << 4,
  /** A: accessed. */
  A: 1 << 5,
  /** D: dirty (leaf). */
  D: 1 << 6,
  /** PS: page size (2 MiB at level 2, 1 GiB at level 3). */
  PS: 1 << 7,
  /** G: global. */
  G: 1 << 8,
} as const;

/** First-stage XD (execute disable) is bit 63: bit 31 of the high word. */
export const FL_XD_HI = 0x8000_0000;

/** A second-stage entry: `pfn` (4 KiB frame) plus the low flag bits (`SL.*`). */
export function slEntry(pfn: number, flags: number): bigint {
  return (BigInt(pfn) << 12n) | BigInt(flags & 0xfff);
}

/**
 * A first-stage entry: `pfn` plus low flag bits (`FL.*`) and XD.
 */
export function flEntry(pfn: number, flags: number, xd = false): bigint {
  return (BigInt(pfn) << 12n) | BigInt(flags & 0xfff) | (xd ? 1n << 63n : 0n);
}
