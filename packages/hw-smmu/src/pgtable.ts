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
 * Every operation runs as a plan: it reads table memory through an
 * overlay of its own earlier writes, counts table allocations and finds
 * errors without touching the FrameStore. decide stops there; evolve then
 * `flush`es the recorded writes. One walk either way, and a failed
 * operation leaves table memory as it was.
 */
import type { FrameStore } from "@iommu-sim/eventlog";
import { type Errno, errno } from "@iommu-sim/uapi";
import { u64ToNumber } from "./bits";
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
/** 2^LEVEL_SHIFT: bytes a descriptor maps at levels 0..3. */
const LEVEL_SIZE = [2 ** 39, 2 ** 30, 2 ** 21, 2 ** 12] as const;
const IA_SIZE = 2 ** DOMAIN_IA_BITS;
const IA_LIMIT = BigInt(IA_SIZE);

/**
 * Table memory as seen by one map/unmap: descriptor reads (through the
 * overlay of this operation's writes), recorded writes, frame allocation.
 */
export class TableWriter {
  /** Bits [31:0] and [63:32] of the last `read`. */
  lo = 0;
  hi = 0;
  /** Table frames allocated so far. */
  allocated = 0;
  /**
   * This operation's first write (`pa0` −1: none yet). Most operations
   * make one — a 4 KiB map or unmap writes one descriptor once its tables
   * exist — so it lives in fields: no array per operation.
   */
  private pa0 = -1;
  private lo0 = 0;
  private hi0 = 0;
  /** The writes after the first, in program order, as (pa, lo, hi) triples. `flush` replays all. */
  private more: number[] | undefined = undefined;
  /** Index of the latest write in `more` by PA, built once there are more than `SCAN` of them. */
  private index: Map<number, number> | undefined = undefined;
  /** Frames taken from the end of `free` so far. */
  private freeTaken = 0;
  /** Table frames this operation gives back (tables an unmap covers whole); dropped by `flush`. */
  private released: number[] | undefined = undefined;

  /**
   * @param mem the table memory (read only until `flush`).
   * @param next next free byte (bump allocator).
   * @param end end of table memory.
   * @param free frame numbers of free single frames, taken first from the end (the instance's `freeFrames`).
   */
  constructor(
    public mem: FrameStore,
    public next: number,
    readonly end: number,
    private readonly free: readonly number[] = NO_FRAMES,
  ) {}

  /** Read the descriptor at `pa` into `lo`/`hi`: this operation's latest write there, else memory. */
  read(pa: number): void {
    const w = this.more;
    if (w !== undefined) {
      const at = this.index !== undefined ? (this.index.get(pa) ?? -1) : lastWriteTo(w, pa);
      if (at >= 0) {
        this.lo = w[at + 1]!;
        this.hi = w[at + 2]!;
        return;
      }
    }
    if (pa === this.pa0) {
      this.lo = this.lo0;
      this.hi = this.hi0;
      return;
    }
    this.lo = this.mem.readU32(pa);
    this.hi = this.mem.readU32(pa + 4);
  }

  write(pa: number, lo: number, hi: number): void {
    if (this.pa0 < 0) {
      this.pa0 = pa;
      this.lo0 = lo >>> 0;
      this.hi0 = hi >>> 0;
      return;
    }
    const w = this.more;
    if (w === undefined) {
      this.more = [pa, lo >>> 0, hi >>> 0];
      return;
    }
    w.push(pa, lo >>> 0, hi >>> 0);
    if (this.index !== undefined) this.index.set(pa, w.length - 3);
    else if (w.length > SCAN * 3) {
      // Many writes (a block split, a long map): index them rather than scan.
      this.index = new Map();
      for (let i = 0; i < w.length; i += 3) this.index.set(w[i]!, i);
    }
  }

  /** A zeroed 4 KiB table frame (a free one first), or undefined when table memory is exhausted. */
  alloc(): number | undefined {
    if (this.freeTaken < this.free.length) {
      this.freeTaken++;
      this.allocated++;
      return this.free[this.free.length - this.freeTaken]! * 4096;
    }
    if (this.next + 4096 > this.end) return undefined;
    const pa = this.next;
    this.next += 4096;
    this.allocated++;
    return pa;
  }

  /**
   * Give back the level-`level` table at `table` and every table under it
   * (read through this operation's writes), as `__arm_lpae_free_pgtable()`.
   */
  release(table: number, level: number): void {
    this.released ??= [];
    this.released.push(table / 4096);
    // A frame never written, with no write of this operation pending, holds no table.
    if (level === 3 || (this.pa0 < 0 && this.mem.peek(table / 4096) === undefined)) return;
    for (let i = 0; i < 512; i++) {
      this.read(table + i * 8);
      if ((this.lo & PTE_VALID) !== 0 && (this.lo & 2) !== 0)
        this.release(addrOf(this.lo, this.hi), level + 1);
    }
  }

  /** The free list after this operation: less the frames it took, plus those it released (the same array when neither). */
  freeFramesAfter(): readonly number[] {
    const kept = this.freeTaken === 0 ? this.free : this.free.slice(0, this.free.length - this.freeTaken);
    return this.released === undefined ? kept : [...kept, ...this.released];
  }

  /** Perform the recorded writes on `mem`, in order, then drop released frames. @returns the table memory after them. */
  flush(): FrameStore {
    let mem = this.mem;
    if (this.pa0 >= 0) mem = mem.writeU64Halves(this.pa0, this.lo0, this.hi0);
    const w = this.more;
    if (w !== undefined)
      for (let i = 0; i < w.length; i += 3) mem = mem.writeU64Halves(w[i]!, w[i + 1]!, w[i + 2]!);
    if (this.released !== undefined) for (const pfn of this.released) mem = mem.drop(pfn);
    this.mem = mem;
    return mem;
  }
}

const NO_FRAMES: readonly number[] = Object.freeze([]);

/** Writes searched linearly before `TableWriter` builds an index (a 4 KiB map writes 1–4). */
const SCAN = 16;

/** Offset in `w` of the latest (pa, lo, hi) triple written to `pa`, or −1. */
function lastWriteTo(w: readonly number[], pa: number): number {
  for (let i = w.length - 3; i >= 0; i -= 3) if (w[i] === pa) return i;
  return -1;
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
    const slot = table + (Math.floor(ia / LEVEL_SIZE[l]!) & 511) * 8;
    w.read(slot);
    if ((w.lo & PTE_VALID) === 0) {
      const nt = w.alloc();
      if (nt === undefined) return errno("ENOMEM", "SMMU table memory exhausted");
      w.write(slot, (nt % TWO32) | PTE_TYPE_TABLE, Math.floor(nt / TWO32));
      table = nt;
    } else if ((w.lo & 2) !== 0) table = addrOf(w.lo, w.hi);
    else return errno("EEXIST", `IOVA 0x${ia.toString(16)} already mapped by a block`);
  }
  const slot = table + (Math.floor(ia / LEVEL_SIZE[level]!) & 511) * 8;
  w.read(slot);
  if ((w.lo & PTE_VALID) !== 0) {
    if (level === 3 || (w.lo & 2) === 0) return errno("EEXIST", `IOVA 0x${ia.toString(16)} already mapped`);
    // A table where a block would go: map the block's pages one level down instead.
    const sub = LEVEL_SIZE[level + 1]!;
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
  // Below 2^48 an IOVA is exact as a number: check it there, without bigint arithmetic.
  let ia = iova < IA_LIMIT ? u64ToNumber(iova) : -1;
  if (ia < 0 || ia % 4096 !== 0 || ia + total > IA_SIZE)
    return errno("EINVAL", "IOVA range not 4 KiB aligned or beyond the 48-bit input size");
  for (const r of pfnRuns) {
    let pa = r.pfn * 4096;
    let left = r.count * 4096;
    while (left > 0) {
      let level = 3;
      for (let l = 1; l <= 2; l++) {
        const size = LEVEL_SIZE[l]!;
        if (left >= size && Math.floor(ia / size) * size === ia && Math.floor(pa / size) * size === pa) {
          level = l;
          break;
        }
      }
      const e = mapLeaf(w, ttb, level, ia, pa, lo, hi);
      if (e !== undefined) return e;
      const size = LEVEL_SIZE[level]!;
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
 * (arm_lpae_split_blk_unmap). Holes are skipped. A table the range covers
 * whole is released with everything under it and its descriptor cleared
 * (__arm_lpae_unmap() → __arm_lpae_free_pgtable(), reached when
 * iommu_unmap()'s block-sized chunk meets a table); tables covered in part
 * are kept, even when left empty. Errors: EINVAL, ENOMEM (split).
 */
export function unmapPages(w: TableWriter, ttb: number, iova: bigint, length: bigint): Errno | undefined {
  let ia = iova < IA_LIMIT ? u64ToNumber(iova) : -1;
  const len = length <= IA_LIMIT ? u64ToNumber(length) : -1;
  if (ia < 0 || len < 0 || ia % 4096 !== 0 || len % 4096 !== 0 || ia + len > IA_SIZE)
    return errno("EINVAL", "unmap range not 4 KiB aligned or beyond the 48-bit input size");
  const start = ia;
  const end = ia + len;
  while (ia < end) {
    let table = ttb;
    for (let level = 0; level <= 3; level++) {
      const size = LEVEL_SIZE[level]!;
      // `& 511` (ToInt32 keeps the low bits) rather than `% 512`, a float modulo on these doubles.
      const slot = table + (Math.floor(ia / size) & 511) * 8;
      w.read(slot);
      const base = Math.floor(ia / size) * size;
      if ((w.lo & PTE_VALID) === 0) {
        ia = Math.min(end, base + size);
        break;
      }
      if (level < 3 && (w.lo & 2) !== 0) {
        if (base >= start && base + size <= end) {
          w.release(addrOf(w.lo, w.hi), level + 1);
          w.write(slot, 0, 0);
          ia = base + size;
          break;
        }
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
      const sub = LEVEL_SIZE[level + 1]!;
      for (let i = 0; i < 512; i++)
        w.write(nt + i * 8, leafLo(oa + i * sub, attrsLo, level + 1), leafHi(oa + i * sub, attrsHi));
      w.write(slot, (nt % TWO32) | PTE_TYPE_TABLE, Math.floor(nt / TWO32));
      table = nt;
    }
  }
  return undefined;
}
