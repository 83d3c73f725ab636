/**
 * The IO page tables of the selftest mock domains (`mockDomain` slice):
 * Linux drivers/iommu/iommufd/selftest.c keeps one entry per 2 KiB IO page
 * (MOCK_IO_PAGE_SIZE), the physical address with MOCK_PFN_START_IOVA /
 * MOCK_PFN_LAST_IOVA flags on an area's first and last IO page. The view
 * decodes every populated table frame (iopt's `readMockPte`) and shows the
 * translations as runs: IOVA → PA contiguous in both, same permissions,
 * broken where an area starts.
 */
import type { FrameStore } from "@iommu-sim/eventlog";
import { MOCK_IO_PAGE, readMockPte } from "@iommu-sim/iopt";
import { isRecord, tableValues } from "./slices";

/** Entries per 4 KiB table frame (8 bytes each). */
const ENTRIES_PER_FRAME = 512;

/** IOVA [iova, last] translates to PA [pa, pa + last − iova]. */
export interface TranslationRun {
  readonly iova: bigint;
  readonly last: bigint;
  /** Physical address in bytes. */
  readonly pa: number;
  /** IOMMU_READ = 1 | IOMMU_WRITE = 2. */
  readonly prot: number;
}

/** One mock domain's translations. */
export interface DomainMap {
  readonly id: number;
  /** The IOAS it is attached to, if any. */
  readonly ioas: number | undefined;
  /** IO page size in bytes (2 KiB). */
  readonly ioPageSize: number;
  /** Valid entries (mapped IO pages). */
  readonly entries: number;
  /** Table frames holding entries. */
  readonly tableFrames: number;
  /** At most `limit` runs, ascending IOVA. */
  readonly runs: readonly TranslationRun[];
}

const isFrameStore = (v: unknown): v is FrameStore =>
  isRecord(v) && typeof (v as { frames?: unknown }).frames === "function";

function decode(id: number, ioas: number | undefined, table: FrameStore, limit: number): DomainMap {
  const runs: TranslationRun[] = [];
  let entries = 0;
  let open: { iova: bigint; last: bigint; pa: number; prot: number } | undefined;
  for (const [pfn] of table.frames()) {
    for (let slot = 0; slot < ENTRIES_PER_FRAME; slot++) {
      const index = pfn * ENTRIES_PER_FRAME + slot;
      const pte = readMockPte(table, index);
      if (pte === undefined) continue;
      entries++;
      const iova = BigInt(index) * BigInt(MOCK_IO_PAGE);
      // The entry continues the open run when IOVA and PA both follow on and no area starts here.
      if (
        open !== undefined &&
        !pte.start &&
        open.last + 1n === iova &&
        open.pa + Number(iova - open.iova) === pte.pa &&
        open.prot === pte.prot
      ) {
        open.last = iova + BigInt(MOCK_IO_PAGE) - 1n;
        continue;
      }
      if (open !== undefined && runs.length < limit) runs.push({ ...open });
      open = { iova, last: iova + BigInt(MOCK_IO_PAGE) - 1n, pa: pte.pa, prot: pte.prot };
    }
  }
  if (open !== undefined && runs.length < limit) runs.push({ ...open });
  return { id, ioas, ioPageSize: MOCK_IO_PAGE, entries, tableFrames: table.frameCount, runs };
}

/**
 * Every mock domain of `root.mockDomain.domains` in id order, with at most
 * `limit` runs each; undefined when the root has no mock domain slice.
 */
export function mockDomainMaps(
  root: Readonly<Record<string, unknown>>,
  limit = 256,
): readonly DomainMap[] | undefined {
  const s = root.mockDomain;
  if (!isRecord(s) || !isRecord(s.domains)) return undefined;
  const out: DomainMap[] = [];
  for (const d of tableValues(s.domains)) {
    if (!isRecord(d) || typeof d.id !== "number" || !isFrameStore(d.table)) continue;
    out.push(decode(d.id, typeof d.ioas === "number" ? d.ioas : undefined, d.table, limit));
  }
  return out.sort((a, b) => a.id - b.id);
}
