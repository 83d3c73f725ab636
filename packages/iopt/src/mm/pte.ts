/**
 * Page-table entries of the simulated MMU, kept in a `FrameStore` like a
 * hardware table: 8 bytes per 4 KiB page, 512 entries per table frame.
 *
 * Entry layout (little endian): bits 0–31 `pfn + 1` (0 = not present),
 * bit 32 `EXCLUSIVE` — the page belongs to this process alone and may be
 * written without a copy (Linux's PageAnonExclusive, mm/memory.c
 * wp_can_reuse_anon_folio()); without it a write or a long-term pin breaks
 * COW first. Shared-object tables (page cache, shmem) use the same layout
 * indexed by page offset in the object, with EXCLUSIVE clear.
 *
 * Frames are limited to 2^32 − 2 (16 TiB of simulated RAM).
 */
import { FrameStore } from "@iommu-sim/eventlog";

/** Entries per table frame (4096 / 8). */
export const PTES_PER_FRAME = 512;
/** The EXCLUSIVE flag in the high word. */
export const PTE_EXCLUSIVE = 1;

/** A decoded entry: `pfn` or -1 when not present; `exclusive` as above. */
export interface Pte {
  readonly pfn: number;
  readonly exclusive: boolean;
}

const NONE: Pte = Object.freeze({ pfn: -1, exclusive: false });

/** The 32-bit word view of one table frame (read-only use). */
export function words(bytes: Uint8Array): Uint32Array {
  return new Uint32Array(bytes.buffer, bytes.byteOffset, 1024);
}

/** Read the entry of page `index` (a VA page number or object page offset). */
export function readPte(table: FrameStore, index: number): Pte {
  const f = table.peek(Math.floor(index / PTES_PER_FRAME));
  if (f === undefined) return NONE;
  const w = words(f);
  const slot = (index % PTES_PER_FRAME) * 2;
  const lo = w[slot]!;
  if (lo === 0) return NONE;
  return { pfn: lo - 1, exclusive: (w[slot + 1]! & PTE_EXCLUSIVE) !== 0 };
}

/**
 * Set `count` consecutive entries from `index` to frames `pfn, pfn+1, …`
 * (or clear them when `pfn` is -1). One frame lookup per 512 entries.
 * @returns the table to use afterwards.
 */
export function writePtes(
  table: FrameStore,
  index: number,
  count: number,
  pfn: number,
  exclusive: boolean,
): FrameStore {
  let done = 0;
  while (done < count) {
    const i = index + done;
    const frame = Math.floor(i / PTES_PER_FRAME);
    const first = i % PTES_PER_FRAME;
    const n = Math.min(PTES_PER_FRAME - first, count - done);
    if (pfn < 0 && !table.has(frame)) {
      done += n;
      continue;
    }
    const base = pfn < 0 ? -1 : pfn + done;
    table = table.edit(frame, (_v, bytes) => {
      const w = words(bytes);
      for (let k = 0; k < n; k++) {
        const slot = (first + k) * 2;
        w[slot] = base < 0 ? 0 : base + k + 1;
        w[slot + 1] = base >= 0 && exclusive ? PTE_EXCLUSIVE : 0;
      }
    });
    done += n;
  }
  return table;
}

/** Clear the EXCLUSIVE flag of every present entry (fork: pages become COW-shared). */
export function clearExclusive(table: FrameStore): FrameStore {
  const frames = [...table.frames()].map(([f]) => f);
  for (const frame of frames) {
    table = table.edit(frame, (_v, bytes) => {
      const w = words(bytes);
      for (let slot = 0; slot < 1024; slot += 2) w[slot + 1] = 0;
    });
  }
  return table;
}

/** A copy of `table` that shares no writable node with it (fork's page-table copy). */
export function copyTable(table: FrameStore): FrameStore {
  let out = FrameStore.empty();
  for (const [frame, bytes] of table.frames()) out = out.edit(frame, (_v, b) => b.set(bytes));
  return out;
}
