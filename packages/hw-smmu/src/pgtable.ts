/**
 * Building VMSAv8-64 tables for host-owned paging domains, the way Linux's
 * io-pgtable-arm does for SMMUv3 (4 KiB granule, 48-bit input, start level
 * 0; page sizes 4 KiB, 2 MiB and 1 GiB — the SMMU's pgsize_bitmap).
 *
 * Sources: Linux drivers/iommu/io-pgtable-arm.c (__arm_lpae_map,
 * arm_lpae_init_pte, __arm_lpae_unmap, arm_lpae_split_blk_unmap),
 * drivers/iommu/iommu.c iommu_pgsize() (largest aligned page size first);
 * Arm ARM D8.3 descriptor formats.
 *
 * Every operation runs in two modes through one code path: "plan" (decide:
 * reads memory, writes only to an overlay, counts table allocations, finds
 * errors) and "apply" (evolve: writes the FrameStore). So decide can reject
 * with the same errno evolve would hit, without touching state.
 */
import type { FrameStore } from "@iommu-sim/eventlog";
import { type Errno, errno } from "@iommu-sim/uapi";
import { PTE_TYPE_BLOCK, PTE_TYPE_PAGE, PTE_TYPE_TABLE, PTE_VALID } from "./pte";

/** A run of physical memory in 4 KiB frames: frames pfn .. pfn+count−1 (SHARED CONTRACTS §3). */
export interface PfnRun {
  readonly pfn: number;
  readonly count: number;
}

const TWO32 = 2 ** 32;
/** log2 of the region a descriptor maps at levels 0..3 (4 KiB granule). */
export const LEVEL_SHIFT = [39, 30, 21, 12] as const;
/** The domain input size: 48 bits (T0SZ / S2T0SZ = 16). */
export const DOMAIN_IA_BITS = 48;

/** Table memory as seen by one map/unmap: reads, writes (in place or to an overlay), frame allocation. */
export class TableWriter {
  lo = 0;
  hi = 0;
  /** Table frames allocated so far. */
  allocated = 0;
  private readonly overlay = new Map<number, readonly [number, number]>();

  /**
   * @param mem the table memory.
   * @param next next free byte (bump allocator).
   * @param end end of table memory.
   * @param apply write `mem` (true) or only the overlay (false).
   */
  constructor(
    public mem: FrameStore,
    public next: number,
    readonly end: number,
    readonly apply: boolean,
  ) {}

  read(pa: number): void {
    const o = this.overlay.get(pa);
    if (o !== undefined) {
      this.lo = o[0];
      this.hi = o[1];
      return;
    }
    this.lo = this.mem.readU32(pa);
    this.hi = this.mem.readU32(pa + 4);
  }

  write(pa: number, lo: number, hi: number): void {
    if (this.apply) this.mem = this.mem.writeU32(pa, lo >>> 0).writeU32(pa + 4, hi >>> 0);
    else this.overlay.set(pa, [lo >>> 0, hi >>> 0]);
  }

  /** A zeroed 4 KiB table frame, or undefined when table memory is exhausted. */
  alloc(): number | undefined {
    if (this.next + 4096 > this.end) return undefined;
    const pa = this.next;
    this.next += 4096;
    this.allocated++;
    return pa;
  }
}

function addrOf(lo: number, hi: number): number {
  return (hi & 0xffff) * TWO32 + ((lo & 0xfffff000) >>> 0);
}

function leafLo(pa: number, attrs: number, level: number): number {
  return (((pa % TWO32) & 0xfffff000) | attrs | (level === 3 ? PTE_TYPE_PAGE : PTE_TYPE_BLOCK)) >>> 0;
}

function leafHi(pa: number, attrsHi: number): number {
  return (Math.floor(pa / TWO32) & 0xffff) | attrsHi;
}

/** Install a leaf of level `level` mapping ia → pa (both aligned to the level's size). */
function mapLeaf(
  w: TableWriter,
  ttb: number,
  level: number,
  ia: number,
  pa: number,
  lo: number,
  hi: number,
): Errno | undefined {
  let table = ttb;
  for (let l = 0; l < level; l++) {
    const slot = table + (Math.floor(ia / 2 ** LEVEL_SHIFT[l]!) % 512) * 8;
    w.read(slot);
    if ((w.lo & PTE_VALID) === 0) {
      const nt = w.alloc();
      if (nt === undefined) return errno("ENOMEM", "SMMU table memory exhausted");
      w.write(slot, (nt % TWO32) | PTE_TYPE_TABLE, Math.floor(nt / TWO32));
      table = nt;
    } else if ((w.lo & 2) !== 0) table = addrOf(w.lo, w.hi);
    else return errno("EEXIST", `IOVA 0x${ia.toString(16)} already mapped by a block`);
  }
  const slot = table + (Math.floor(ia / 2 ** LEVEL_SHIFT[level]!) % 512) * 8;
  w.read(slot);
  if ((w.lo & PTE_VALID) !== 0) {
    if (level === 3 || (w.lo & 2) === 0) return errno("EEXIST", `IOVA 0x${ia.toString(16)} already mapped`);
    // A table where a block would go: map the block's pages one level down instead.
    const sub = 2 ** LEVEL_SHIFT[level + 1]!;
    for (let i = 0; i < 512; i++) {
      const e = mapLeaf(w, ttb, level + 1, ia + i * sub, pa + i * sub, lo, hi);
      if (e !== undefined) return e;
    }
    return undefined;
  }
  w.write(slot, leafLo(pa, lo, level), leafHi(pa, hi));
  return undefined;
}

/**
 * Map `pfnRuns` at `iova` (bytes, 4 KiB aligned, < 2^48), choosing the
 * largest page size (1 GiB, 2 MiB, 4 KiB) that IOVA, PA and the remaining
 * length allow, as iommu_pgsize() does. `lo`/`hi` are the leaf attributes
 * (see `leafAttrs`). Errors: EINVAL (range), EEXIST (already mapped, as
 * arm_lpae_init_pte), ENOMEM (table memory).
 */
export function mapPages(
  w: TableWriter,
  ttb: number,
  iova: bigint,
  pfnRuns: readonly PfnRun[],
  lo: number,
  hi: number,
): Errno | undefined {
  let total = 0;
  for (const r of pfnRuns) {
    if (!(Number.isSafeInteger(r.pfn) && r.pfn >= 0 && Number.isSafeInteger(r.count) && r.count > 0))
      return errno("EINVAL", "bad PFN run");
    total += r.count * 4096;
  }
  if (iova % 4096n !== 0n || iova + BigInt(total) > 2n ** BigInt(DOMAIN_IA_BITS))
    return errno("EINVAL", "IOVA range not 4 KiB aligned or beyond the 48-bit input size");
  let ia = Number(iova);
  for (const r of pfnRuns) {
    let pa = r.pfn * 4096;
    let left = r.count * 4096;
    while (left > 0) {
      let level = 3;
      for (const l of [1, 2] as const) {
        const size = 2 ** LEVEL_SHIFT[l]!;
        if (ia % size === 0 && pa % size === 0 && left >= size) {
          level = l;
          break;
        }
      }
      const e = mapLeaf(w, ttb, level, ia, pa, lo, hi);
      if (e !== undefined) return e;
      const size = 2 ** LEVEL_SHIFT[level]!;
      ia += size;
      pa += size;
      left -= size;
    }
  }
  return undefined;
}

/**
 * Unmap [iova, iova + length) (bytes, 4 KiB aligned). A block only partly
 * inside the range is split into a table of next-level leaves first
 * (arm_lpae_split_blk_unmap). Holes are skipped. Table pages are not freed
 * (Linux frees them only with the domain). Errors: EINVAL, ENOMEM (split).
 */
export function unmapPages(w: TableWriter, ttb: number, iova: bigint, length: bigint): Errno | undefined {
  if (iova % 4096n !== 0n || length % 4096n !== 0n || iova + length > 2n ** BigInt(DOMAIN_IA_BITS))
    return errno("EINVAL", "unmap range not 4 KiB aligned or beyond the 48-bit input size");
  let ia = Number(iova);
  const end = Number(iova + length);
  while (ia < end) {
    let table = ttb;
    for (let level = 0; level <= 3; level++) {
      const shift = LEVEL_SHIFT[level]!;
      const size = 2 ** shift;
      const slot = table + (Math.floor(ia / size) % 512) * 8;
      w.read(slot);
      const base = ia - (ia % size);
      if ((w.lo & PTE_VALID) === 0) {
        ia = Math.min(end, base + size);
        break;
      }
      if (level < 3 && (w.lo & 2) !== 0) {
        table = addrOf(w.lo, w.hi);
        continue;
      }
      if (ia === base && base + size <= end) {
        w.write(slot, 0, 0);
        ia = base + size;
        break;
      }
      // Split the block: a new table whose 512 leaves carry the block's attributes.
      const nt = w.alloc();
      if (nt === undefined) return errno("ENOMEM", "SMMU table memory exhausted (block split)");
      const attrsLo = w.lo & 0xffc;
      const attrsHi = w.hi & 0xffff0000;
      const oa = addrOf(w.lo, w.hi);
      const sub = 2 ** LEVEL_SHIFT[level + 1]!;
      for (let i = 0; i < 512; i++)
        w.write(nt + i * 8, leafLo(oa + i * sub, attrsLo, level + 1), leafHi(oa + i * sub, attrsHi));
      w.write(slot, (nt % TWO32) | PTE_TYPE_TABLE, Math.floor(nt / TWO32));
      table = nt;
    }
  }
  return undefined;
}
