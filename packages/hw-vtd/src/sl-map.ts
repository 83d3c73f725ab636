/**
 * Writing second-stage page tables in table memory: map PFN runs at an
 * IOVA (using 2 MiB / 1 GiB leaves where both addresses are aligned, the run
 * is long enough, CAP.SLLPS allows it and the slot is empty), and unmap.
 *
 * Each operation has a read-only planning half for `decide` (how many table
 * pages it allocates — each a fallible step — and the errno if it cannot
 * proceed) and a writing half for `evolve`.
 *
 * Source: VT-d spec rev 4.1 §9.8 (second-stage entries: R, W, PS,
 * address bits 51:12; non-leaf entries carry R and W too, Linux sets both);
 * Linux drivers/iommu/intel/iommu.c `__domain_mapping()` / `intel_iommu_map()`
 * (superpage choice `hardware_largepage_caps()`), generic page table
 * (drivers/iommu/generic_pt) for the errno of an occupied slot.
 */
import { type Errno, errno, u64ToNumber } from "@iommu-sim/uapi";
import { SL } from "./pte";
import { agawToLevels, agawToWidth } from "./regs";
import { unitFeatures, type VtdUnit } from "./state";
import { allocFrames } from "./tables";

/** Linux `IOMMU_READ`. */
export const IOMMU_READ = 1 << 0;
/** Linux `IOMMU_WRITE`. */
export const IOMMU_WRITE = 1 << 1;
/** Linux `IOMMU_CACHE`. */
export const IOMMU_CACHE = 1 << 2;
/** Linux `IOMMU_NOEXEC`. */
export const IOMMU_NOEXEC = 1 << 3;

/** A run of physically contiguous 4 KiB frames. */
export interface PfnRun {
  /** First frame number (PA / 4096). */
  readonly pfn: number;
  /** Number of 4 KiB frames. */
  readonly count: number;
}

/** A second-stage table to write into: the domain's root PA and levels. */
export interface SlTable {
  readonly pgd: number;
  /** AGAW code: 1 = 3-level, 2 = 4-level, 3 = 5-level. */
  readonly agaw: number;
}

const SCALE = [1, 512, 262144] as const;
/** 512^(level − 1): 4 KiB pages an entry of `level` covers (levels 1..5). */
const SPAN = [0, 1, 512, 512 ** 2, 512 ** 3, 512 ** 4] as const;

const TWO53 = 2n ** 53n;

/** `Number(x >> 12n)`: the 4 KiB page number of byte address `x`; through an exact double for 0 ≤ x < 2^53. */
function pageNumber(x: bigint): number {
  return x >= 0n && x < TWO53 ? Math.floor(u64ToNumber(x) / 4096) : Number(x >> 12n);
}

function tableIndex(vpn: number, level: number): number {
  // `& 511` (ToInt32 keeps the low bits of this integer < 2^53) rather than a float `% 512`.
  return Math.floor(vpn / SPAN[level]!) & 511;
}

function readU64Halves(unit: VtdUnit, pa: number): [number, number] {
  return [unit.tables.readU32(pa), unit.tables.readU32(pa + 4)];
}

const isPresent = (lo: number): boolean => (lo & (SL.R | SL.W)) !== 0;
const isLeaf = (lo: number, level: number): boolean => level === 1 || (lo & SL.PS) !== 0;

/** The PA held in an entry's halves (bits 51:12). */
function entryPa(lo: number, hi: number): number {
  return (hi & 0xfffff) * 4294967296 + (lo >>> 12) * 4096;
}

/** Largest leaf size index (0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB) usable at this point. */
function leafSize(unit: VtdUnit, vpn: number, pfn: number, pages: number): number {
  if (pages < 512) return 0;
  const sllps = unitFeatures(unit.config).sllps;
  for (let s = 2; s >= 1; s--) {
    if ((sllps & (1 << (s - 1))) === 0) continue;
    const scale = SCALE[s]!;
    if (vpn % scale === 0 && pfn % scale === 0 && pages >= scale) return s;
  }
  return 0;
}

/** What a map will do: the table pages it allocates. */
export interface MapPlan {
  readonly tablePages: number;
}

/**
 * Check a map of `runs` at `iova` (4 KiB aligned bytes) into `t`.
 * @returns the plan, or EINVAL (unaligned / empty), EFAULT (beyond the
 *   domain's address width; Linux `intel_iommu_map()`), EADDRINUSE (a page
 *   is already mapped; generic_pt).
 */
export function planMap(unit: VtdUnit, t: SlTable, iova: bigint, runs: readonly PfnRun[]): MapPlan | Errno {
  const created = new Set<number>();
  const e = planTables(unit, t, iova, runs, created);
  return e ?? { tablePages: created.size };
}

/**
 * `planMap` into a set of the tables the map creates, shared by a
 * sequence of maps (table-budget.ts): a table an earlier map of the
 * sequence creates is counted once. Keys: a table's level − 1 + 8 × the
 * first 4 KiB page number it covers / 512^(level − 1).
 * @returns undefined, or `planMap`'s errno.
 */
export function planTables(
  unit: VtdUnit,
  t: SlTable,
  iova: bigint,
  runs: readonly PfnRun[],
  created: Set<number>,
): Errno | undefined {
  if ((iova & 0xfffn) !== 0n) return errno("EINVAL", "iova is not 4 KiB aligned");
  let pages = 0;
  for (const r of runs) {
    if (!Number.isSafeInteger(r.pfn) || !Number.isSafeInteger(r.count) || r.pfn < 0 || r.count < 0)
      return errno("EINVAL", "bad pfn run");
    pages += r.count;
  }
  if (pages === 0) return errno("EINVAL", "empty map");
  const width = agawToWidth(t.agaw);
  if (iova + BigInt(pages) * 4096n > 1n << BigInt(width))
    return errno("EFAULT", `mapping exceeds the domain's ${width}-bit address width`);
  const levels = agawToLevels(t.agaw);
  let vpn = pageNumber(iova);
  for (const r of runs) {
    let pfn = r.pfn;
    let left = r.count;
    while (left > 0) {
      const step = planStep(unit, t.pgd, levels, vpn, leafSize(unit, vpn, pfn, left), left, created);
      if (typeof step !== "number") return step;
      vpn += step;
      pfn += step;
      left -= step;
    }
  }
  return undefined;
}

/**
 * Check the leaves of one table from `vpn` at leaf size `size`; record the
 * tables that would be created in `created` (keyed by level and the page
 * number they cover). @returns the pages covered, or the errno.
 */
function planStep(
  unit: VtdUnit,
  pgd: number,
  levels: number,
  vpn: number,
  size: number,
  left: number,
  created: Set<number>,
): number | Errno {
  let table = pgd;
  let virtual = false;
  for (let level = levels; level > size + 1; level--) {
    if (!virtual) {
      const [lo, hi] = readU64Halves(unit, table + tableIndex(vpn, level) * 8);
      if (isPresent(lo)) {
        if (isLeaf(lo, level)) return inUse(vpn);
        table = entryPa(lo, hi);
        continue;
      }
      virtual = true;
    }
    created.add(Math.floor(vpn / 512 ** (level - 1)) * 8 + level - 1);
  }
  const scale = SCALE[size]!;
  const first = tableIndex(vpn, size + 1);
  const count = size > 0 ? 1 : Math.min(512 - first, left);
  if (virtual) return count * scale;
  for (let i = 0; i < count; i++) {
    const [lo] = readU64Halves(unit, table + (first + i) * 8);
    if (!isPresent(lo)) continue;
    // A table already hangs where a superpage would go: use smaller pages beneath it.
    if (size > 0 && !isLeaf(lo, size + 1)) return planStep(unit, pgd, levels, vpn, size - 1, left, created);
    return inUse(vpn + i * scale);
  }
  return count * scale;
}

function inUse(vpn: number): Errno {
  return errno("EADDRINUSE", `iova 0x${(vpn * 4096).toString(16)} is already mapped`);
}

/** SL leaf/permission bits for Linux `prot` (IOMMU_READ / IOMMU_WRITE). */
function protBits(prot: number): number {
  return (prot & IOMMU_READ ? SL.R : 0) | (prot & IOMMU_WRITE ? SL.W : 0);
}

/**
 * Map `runs` at `iova` with Linux `prot` into `t` (the caller checked
 * `planMap`). Missing tables are allocated on the way down.
 */
export function mapRange(
  unit: VtdUnit,
  t: SlTable,
  iova: bigint,
  runs: readonly PfnRun[],
  prot: number,
): VtdUnit {
  const levels = agawToLevels(t.agaw);
  const perm = protBits(prot);
  // Table memory is threaded through locally and put back into the unit once, at the end
  // (or before a frame allocation, which reads it): no copy of the unit per write.
  let tables = unit.tables;
  let vpn = pageNumber(iova);
  for (const r of runs) {
    let pfn = r.pfn;
    let left = r.count;
    while (left > 0) {
      let size = leafSize(unit, vpn, pfn, left);
      let table = t.pgd;
      let level = levels;
      for (; level > 1; level--) {
        const pa = table + tableIndex(vpn, level) * 8;
        const lo = tables.readU32(pa);
        if (level === size + 1) {
          // A table already hangs where a superpage would go: use smaller pages beneath it.
          if (isPresent(lo)) size--;
          else break;
        }
        if (isPresent(lo)) {
          table = entryPa(lo, tables.readU32(pa + 4));
          continue;
        }
        const a = allocFrames(tables === unit.tables ? unit : { ...unit, tables }, 1);
        unit = a.unit;
        tables = unit.tables.writeU64Halves(
          pa,
          (a.pa % 4294967296) | SL.R | SL.W,
          Math.floor(a.pa / 4294967296),
        );
        table = a.pa;
      }
      // Fill consecutive leaves of this table.
      const scale = SCALE[size]!;
      const first = tableIndex(vpn, size + 1);
      const count = size > 0 ? 1 : Math.min(512 - first, left);
      const flags = perm | (size > 0 ? SL.PS : 0);
      for (let i = 0; i < count; i++) {
        const frame = pfn + i * scale;
        // Consecutive leaves share the table's frame: each write after the first finds it cached.
        tables = tables.writeU64Halves(
          table + (first + i) * 8,
          (frame % 0x100000) * 4096 + flags,
          Math.floor(frame / 0x100000),
        );
      }
      vpn += count * scale;
      pfn += count * scale;
      left -= count * scale;
    }
  }
  return tables === unit.tables ? unit : { ...unit, tables };
}

/**
 * Clear every leaf overlapping 4 KiB pages [iova, iova + length) in `t`. A
 * superpage partly inside the range is cleared whole, as Linux's
 * `iommu_unmap()` reports (it may unmap more than asked). A table the
 * range covers whole is freed with everything under it and its entry
 * cleared (Linux generic_pt `__unmap_range()`; the older intel driver's
 * `dma_pte_clear_level()` did the same): its frames go to the unit's free
 * list. Tables the range covers in part are kept, even when left empty.
 * No IOTLB invalidation: that is the driver's separate step.
 * @returns the unit and the number of bytes unmapped.
 */
export function unmapRange(
  unit: VtdUnit,
  t: SlTable,
  iova: bigint,
  length: bigint,
): { unit: VtdUnit; unmapped: bigint } {
  const levels = agawToLevels(t.agaw);
  let tables = unit.tables;
  const start = pageNumber(iova);
  let vpn = start;
  const end =
    vpn +
    (length >= 0n && length < TWO53
      ? Math.ceil(u64ToNumber(length) / 4096)
      : Number((length + 0xfffn) >> 12n));
  let unmapped = 0;
  let freed: number[] | undefined;
  while (vpn < end) {
    let table = t.pgd;
    let level = levels;
    let step = 0;
    for (;;) {
      const pa = table + tableIndex(vpn, level) * 8;
      const lo = tables.readU32(pa);
      const scale = SPAN[level]!;
      const base = Math.floor(vpn / scale) * scale;
      if (!isPresent(lo)) {
        step = scale - (vpn - base);
        break;
      }
      if (isLeaf(lo, level)) {
        tables = tables.writeU64Halves(pa, 0, 0);
        unmapped += scale;
        step = scale - (vpn - base);
        break;
      }
      if (base >= start && base + scale <= end) {
        freed ??= [];
        unmapped += subtreeFrames(tables, entryPa(lo, tables.readU32(pa + 4)), level - 1, freed);
        tables = tables.writeU64Halves(pa, 0, 0);
        step = scale - (vpn - base);
        break;
      }
      table = entryPa(lo, tables.readU32(pa + 4));
      level--;
    }
    vpn += step;
  }
  if (freed !== undefined) {
    for (const pfn of freed) tables = tables.drop(pfn);
    unit = { ...unit, freeFrames: [...unit.freeFrames, ...freed] };
  }
  // One bigint rather than two (BigInt then a product) while the byte count is exact in a double.
  const bytes = unmapped < 2 ** 41 ? BigInt(unmapped * 4096) : BigInt(unmapped) * 4096n;
  return { unit: tables === unit.tables ? unit : { ...unit, tables }, unmapped: bytes };
}

/**
 * Push the frame numbers of the level-`level` table at `table` and of
 * every table under it onto `out`. @returns the 4 KiB pages its leaves map.
 */
function subtreeFrames(tables: VtdUnit["tables"], table: number, level: number, out: number[]): number {
  out.push(table / 4096);
  let pages = 0;
  for (let i = 0; i < 512; i++) {
    const lo = tables.readU32(table + i * 8);
    if (!isPresent(lo)) continue;
    if (isLeaf(lo, level)) pages += SPAN[level]!;
    else pages += subtreeFrames(tables, entryPa(lo, tables.readU32(table + i * 8 + 4)), level - 1, out);
  }
  return pages;
}
