/**
 * How the hardware reads physical memory: an address inside the unit's
 * table-memory region is read from the unit's own `tables` store, any other
 * address from RAM (`root.mm.ram`, owned by the mm subsystem). Guest-owned
 * structures — nested first-stage tables, invalidation-wait status words —
 * therefore live in RAM.
 *
 * Entries are read as two little-endian u32 halves into a scratch pair so
 * walks allocate nothing and never touch BigInt.
 */
import type { VtdUnit } from "./state";

/** The read side of a physical memory (a `FrameStore` satisfies it). */
export interface PhysMemory {
  /** Frame `pfn`'s 4096 bytes, or undefined when it was never written (zeros). */
  peek(pfn: number): Uint8Array | undefined;
  /** `length` bytes from `pa` (zeros where never written). */
  read(pa: number, length: number): Uint8Array;
}

/** The part of the root state this package reads besides its own slice. */
export interface MmSlice {
  /** RAM by physical address (shared contract: `root.mm.ram`). */
  readonly ram: PhysMemory;
}

const NO_RAM: PhysMemory = {
  peek: () => undefined,
  read: (_pa, length) => new Uint8Array(length),
};

/** Frames remembered per `Mem` (direct-mapped by frame number). */
const SLOTS = 64;

/**
 * What a walker reads through: the unit's table memory and RAM, as they are
 * in one state. It remembers the frames it looked up (a walk touches the
 * same few table pages again and again), so it must not outlive that state:
 * build a new one with `memOf` after any change.
 */
export interface Mem {
  readonly tables: PhysMemory;
  readonly base: number;
  readonly end: number;
  readonly ram: PhysMemory;
  /** Frame numbers of the remembered frames (-1: empty slot). */
  readonly slotPfn: Float64Array;
  /** The remembered frames as little-endian u32 words (null: never written, reads as zeros). */
  readonly slotWords: (Uint32Array | null)[];
  /** CAP.SLLPS of the unit (read by every second-stage walk). */
  readonly sllps: number;
  /** CAP.FL1GP of the unit. */
  readonly fl1gp: boolean;
}

/** The memory view of `unit` with RAM `ram` (absent: all zeros). */
export function memOf(unit: VtdUnit, ram: PhysMemory | undefined): Mem {
  const base = unit.config.tableBase;
  return {
    tables: unit.tables,
    base,
    end: base + unit.config.tableFrames * 4096,
    ram: ram ?? NO_RAM,
    slotPfn: new Float64Array(SLOTS).fill(-1),
    slotWords: new Array<Uint32Array | null>(SLOTS).fill(null),
    sllps: Number((unit.config.cap >> 34n) & 0xfn),
    fl1gp: ((unit.config.cap >> 56n) & 1n) === 1n,
  };
}

/** Whether this platform stores a u32 little-endian (then frames are read as u32 words directly). */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Frame `pfn` as little-endian u32 words (null: never written), through the view's memory of recent frames. */
export function frameWords(mem: Mem, pfn: number): Uint32Array | null {
  const slot = pfn % SLOTS;
  if (mem.slotPfn[slot] === pfn) return mem.slotWords[slot]!;
  const pa = pfn * 4096;
  const bytes = (pa >= mem.base && pa < mem.end ? mem.tables : mem.ram).peek(pfn);
  let words: Uint32Array | null = null;
  if (bytes !== undefined) {
    if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0)
      words = new Uint32Array(bytes.buffer, bytes.byteOffset, 1024);
    else {
      const v = new DataView(bytes.buffer, bytes.byteOffset, 4096);
      words = new Uint32Array(1024);
      for (let i = 0; i < 1024; i++) words[i] = v.getUint32(i * 4, true);
    }
  }
  mem.slotPfn[slot] = pfn;
  mem.slotWords[slot] = words;
  return words;
}

/** The halves of the last `readEntry`: `lo` = bits 31:0, `hi` = bits 63:32 (unsigned). */
export const ENTRY = { lo: 0, hi: 0 };

/** Read the 64-bit entry at `pa` (8-byte aligned) into `ENTRY`. */
export function readEntry(mem: Mem, pa: number): void {
  const words = frameWords(mem, Math.floor(pa / 4096));
  if (words === null) {
    ENTRY.lo = 0;
    ENTRY.hi = 0;
    return;
  }
  const w = (pa % 4096) >> 2;
  ENTRY.lo = words[w]!;
  ENTRY.hi = words[w + 1]!;
}

/** The 64-bit word at `pa` as a bigint (cold paths: context and PASID entries). */
export function readWord(mem: Mem, pa: number): bigint {
  readEntry(mem, pa);
  return (BigInt(ENTRY.hi) << 32n) | BigInt(ENTRY.lo);
}

/** Whether `pa` lies in the unit's table memory. */
export function inTableMemory(mem: Mem, pa: number): boolean {
  return pa >= mem.base && pa < mem.end;
}
