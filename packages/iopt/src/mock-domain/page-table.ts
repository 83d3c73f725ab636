/**
 * The selftest mock domain's IO page table (Linux drivers/iommu/iommufd/
 * selftest.c, mock_domain_map_pages()/mock_domain_unmap_pages()): one u64
 * per 2 KiB IO page (MOCK_IO_PAGE_SIZE = PAGE_SIZE / 2), indexed by
 * IOVA / 2048, kept in a `FrameStore` at byte address index × 8.
 *
 * Entry: bits 0–52 the physical address / 2048 (MOCK_PFN_MASK); bit 53
 * MOCK_PFN_START_IOVA on the first IO page of a mapped area; bit 54
 * MOCK_PFN_LAST_IOVA on its last (Linux sets them per iommu_map() call,
 * which iommufd issues per contiguous PFN batch; the model maps one area
 * per call). Bits 57/58 record IOMMU_READ/IOMMU_WRITE (the model's
 * addition: Linux's mock ignores prot). 0 = not mapped.
 */
import type { FrameStore } from "@iommu-sim/eventlog";
import type { PfnRun } from "../mm/fault";
import { words, writePtes } from "../mm/pte";

/** MOCK_IO_PAGE_SIZE: 2 KiB. */
export const MOCK_IO_PAGE = 2048;
/** Entries per table frame. */
const PER_FRAME = 512;
/** High-word flag bits (entry bit n → 1 << (n − 32)). */
export const MOCK_HI_START = 1 << 21;
/** MOCK_PFN_LAST_IOVA in the high word. */
export const MOCK_HI_LAST = 1 << 22;
/** IOMMU_READ in the high word. */
export const MOCK_HI_READ = 1 << 25;
/** IOMMU_WRITE in the high word. */
export const MOCK_HI_WRITE = 1 << 26;
/** Bits of the address field in the high word (53 − 32 = 21 bits). */
const HI_ADDR_MASK = (1 << 21) - 1;

/** A decoded entry: the physical address it maps (bytes) and its flags; undefined when empty. */
export interface MockPte {
  readonly pa: number;
  readonly start: boolean;
  readonly last: boolean;
  readonly prot: number;
}

/** Read the entry of IO page `index`. */
export function readMockPte(table: FrameStore, index: number): MockPte | undefined {
  const f = table.peek(Math.floor(index / PER_FRAME));
  if (f === undefined) return undefined;
  const w = words(f);
  const slot = (index % PER_FRAME) * 2;
  const lo = w[slot]!;
  const hi = w[slot + 1]!;
  if (lo === 0 && hi === 0) return undefined;
  return {
    pa: ((hi & HI_ADDR_MASK) * 2 ** 32 + lo) * MOCK_IO_PAGE,
    start: (hi & MOCK_HI_START) !== 0,
    last: (hi & MOCK_HI_LAST) !== 0,
    prot: (hi & MOCK_HI_READ ? 1 : 0) | (hi & MOCK_HI_WRITE ? 2 : 0),
  };
}

/**
 * Map `length` bytes at IO page index `index` to the frames of `runs`
 * starting `offset` bytes into the first frame (a multiple of 2 KiB).
 * Writes 512 entries per table-frame lookup. @returns the table to use afterwards.
 */
export function mockMapRange(
  table: FrameStore,
  index: number,
  nio: number,
  runs: readonly PfnRun[],
  offset: number,
  prot: number,
): FrameStore {
  const protHi = (prot & 1 ? MOCK_HI_READ : 0) | (prot & 2 ? MOCK_HI_WRITE : 0);
  if (nio <= FEW_ENTRIES && runs.length === 1) return mapFew(table, index, nio, runs[0]!, offset, protHi);
  // v = physical address / 2048 of the current IO page; it advances by 1 per IO page within a run.
  let run = 0;
  let v = runs[0]!.pfn * 2 + offset / MOCK_IO_PAGE;
  let runLeft = runs[0]!.count * 2 - offset / MOCK_IO_PAGE;
  let j = 0;
  while (j < nio) {
    const i = index + j;
    const first = i % PER_FRAME;
    const n = Math.min(PER_FRAME - first, nio - j);
    let w: Uint32Array | undefined;
    table = table.edit(Math.floor(i / PER_FRAME), (_v, bytes) => {
      w = words(bytes);
    });
    for (let k = 0; k < n; k++, j++) {
      if (runLeft === 0) {
        const r = runs[++run]!;
        v = r.pfn * 2;
        runLeft = r.count * 2;
      }
      const slot = (first + k) * 2;
      const flags = protHi | (j === 0 ? MOCK_HI_START : 0) | (j === nio - 1 ? MOCK_HI_LAST : 0);
      if (v < 0x1_0000_0000) {
        w![slot] = v;
        w![slot + 1] = flags;
      } else {
        w![slot] = v % 0x1_0000_0000;
        w![slot + 1] = Math.floor(v / 0x1_0000_0000) | flags;
      }
      v++;
      runLeft--;
    }
  }
  return table;
}

/** Up to this many entries are written one by one (no per-frame callback or typed-array view). */
const FEW_ENTRIES = 8;

/** `mockMapRange` of a few entries from one PFN run: entry by entry. */
function mapFew(
  table: FrameStore,
  index: number,
  nio: number,
  run: PfnRun,
  offset: number,
  protHi: number,
): FrameStore {
  let v = run.pfn * 2 + offset / MOCK_IO_PAGE;
  for (let j = 0; j < nio; j++, v++) {
    const flags = protHi | (j === 0 ? MOCK_HI_START : 0) | (j === nio - 1 ? MOCK_HI_LAST : 0);
    const at = (index + j) * 8;
    table = table.writeU32(at, v % 0x1_0000_0000).writeU32(at + 4, Math.floor(v / 0x1_0000_0000) | flags);
  }
  return table;
}

/** Clear `nio` entries from IO page index `index`. @returns the table to use afterwards. */
export function mockUnmapRange(table: FrameStore, index: number, nio: number): FrameStore {
  if (nio > FEW_ENTRIES) return writePtes(table, index, nio, -1, false);
  for (let j = 0; j < nio; j++) {
    const i = index + j;
    // Never materialise a table frame just to clear it.
    if (table.has(Math.floor(i / PER_FRAME))) table = table.writeU64(i * 8, 0n);
  }
  return table;
}
