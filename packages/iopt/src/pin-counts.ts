/**
 * Long-term pin counts per physical frame — what Linux keeps in the page's
 * refcount in units of GUP_PIN_COUNTING_BIAS (mm/gup.c, try_grab_folio())
 * and what IOMMU_TEST_OP_MD_CHECK_REFS reads back. Stored as a u32 per
 * 4 KiB frame in a `FrameStore` (1024 counters per table frame), so a
 * million pinned pages cost 4 MiB and copy-on-write follows the epoch rule.
 */
import type { FrameStore } from "@iommu-sim/eventlog";
import type { PfnRun } from "./mm/fault";

const PER_FRAME = 1024;
/** Runs up to this many frames are counted word by word rather than through `FrameStore.edit`. */
const SMALL_RUN = 8;

/** The pin count of frame `pfn`. */
export function pinCount(counts: FrameStore, pfn: number): number {
  return counts.readU32(pfn * 4);
}

/**
 * Add `delta` (±1) to the count of every frame in `runs`.
 * @returns the store to use afterwards.
 */
export function addPins(counts: FrameStore, runs: readonly PfnRun[], delta: number): FrameStore {
  for (const run of runs) {
    if (run.count <= SMALL_RUN) {
      // A few frames (the 4 KiB map of a VMM's hot path): word by word, no callback.
      for (let k = 0; k < run.count; k++) {
        const at = (run.pfn + k) * 4;
        counts = counts.writeU32(at, counts.readU32(at) + delta);
      }
      continue;
    }
    let done = 0;
    while (done < run.count) {
      const pfn = run.pfn + done;
      const frame = Math.floor(pfn / PER_FRAME);
      const first = pfn % PER_FRAME;
      const n = Math.min(PER_FRAME - first, run.count - done);
      counts = counts.edit(frame, (_v, bytes) => {
        const w = new Uint32Array(bytes.buffer, bytes.byteOffset, PER_FRAME);
        for (let k = first; k < first + n; k++) w[k] = w[k]! + delta;
      });
      done += n;
    }
  }
  return counts;
}
