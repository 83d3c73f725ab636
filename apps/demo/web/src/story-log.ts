/**
 * The dev server's default log: the records of `pnpm demo`'s story
 * (src/story/run.ts — the VFIO guest on VT-d, PASIDs and a page request,
 * the untrusted NIC), decided by the real packages and encoded as JSON
 * Lines. Browser-safe, though the dev server runs it in Node.
 */
import { encodeLog } from "@iommu-sim/eventlog";
import { storyRecords } from "../../src/story/run";

/** The story's log as JSON Lines text (header line first). */
export function storyLogText(): string {
  return encodeLog(storyRecords(), { source: "iommu-sim demo story" });
}
