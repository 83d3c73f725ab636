/**
 * How the SMMU reads physical memory: addresses inside the instance's
 * table-memory region come from its own FrameStore; everything else (guest
 * RAM holding guest-owned tables, e.g. nested stage-1 CD and page tables)
 * from `root.mm.ram` (SHARED CONTRACTS §1 of the project).
 *
 * 64-bit descriptors are read as two 32-bit halves straight from the frame
 * bytes: one radix lookup per descriptor and no bigint, which is what keeps
 * table walks fast.
 */
import type { FrameStore } from "@iommu-sim/eventlog";

const FRAME = 4096;

/** Frames remembered by a reader (direct-mapped by a hash of the frame number; 2^8 slots). */
const FRAME_CACHE = 256;

/**
 * A read-only view of physical memory for one SMMU instance. Memory must not
 * change while a reader is in use (readers are made per translation request,
 * or per benchmark over a fixed state): it remembers the last frames it
 * looked up, so repeated descriptor reads skip the FrameStore's radix walk.
 */
export class PhysReader {
  /** Bits [31:0] of the last `read64`. */
  lo = 0;
  /** Bits [63:32] of the last `read64`. */
  hi = 0;
  private readonly tags = new Float64Array(FRAME_CACHE).fill(-1);
  /** Cached frames as little-endian u32 words (hosts are little endian: x86-64, arm64). */
  private readonly frames: (Uint32Array | undefined)[] = new Array(FRAME_CACHE).fill(undefined);

  /**
   * @param table the instance's table memory.
   * @param base first byte of the table-memory region (PA).
   * @param end first byte after it.
   * @param ram RAM (`root.mm.ram`), absent when no `mm` slice exists.
   */
  constructor(
    readonly table: FrameStore,
    readonly base: number,
    readonly end: number,
    readonly ram: FrameStore | undefined,
  ) {}

  /** The store holding `pa`. */
  storeFor(pa: number): FrameStore | undefined {
    return pa >= this.base && pa < this.end ? this.table : this.ram;
  }

  private frame(pa: number): Uint32Array | undefined {
    const pfn = Math.floor(pa / FRAME);
    // Fibonacci hashing of the frame number's low 32 bits: table memory and RAM frames
    // with equal low bits (e.g. 0x1000002 and 0x40002) must not evict each other.
    const slot = Math.imul(pfn | 0, 0x9e3779b1) >>> 24;
    if (this.tags[slot] === pfn) return this.frames[slot];
    const store = pa >= this.base && pa < this.end ? this.table : this.ram;
    const bytes = store?.peek(pfn);
    const words =
      bytes === undefined ? undefined : new Uint32Array(bytes.buffer, bytes.byteOffset, FRAME / 4);
    this.tags[slot] = pfn;
    this.frames[slot] = words;
    return words;
  }

  /** Read the little-endian u64 at `pa` (8-byte aligned) into `lo`/`hi`. Unpopulated memory reads as zero. */
  read64(pa: number): void {
    const words = this.frame(pa);
    if (words === undefined) {
      this.lo = 0;
      this.hi = 0;
      return;
    }
    const i = (pa & (FRAME - 1)) >>> 2;
    this.lo = words[i]!;
    this.hi = words[i + 1]!;
  }

  /** Read `count` u64 words from `pa` as bigints (STEs, CDs: off the hot path). */
  readWords(pa: number, count: number): bigint[] {
    const out: bigint[] = new Array(count);
    for (let i = 0; i < count; i++) {
      this.read64(pa + i * 8);
      out[i] = (BigInt(this.hi) << 32n) | BigInt(this.lo);
    }
    return out;
  }

  /** Copy `length` bytes from `pa` (zeros where unpopulated). */
  readBytes(pa: number, length: number): Uint8Array {
    const store = this.storeFor(pa);
    return store === undefined ? new Uint8Array(length) : store.read(pa, length);
  }
}
