/**
 * `iommu-sim replay LOG [--to SEQ] [--json]`: re-apply the logged events
 * (evolve only, no decide) to a fresh model of the log's platform, up to
 * record SEQ (default: all), then report the state hash and a summary.
 */
import { stateHash } from "@iommu-sim/eventlog";
import { UsageError } from "../errors";
import { createModel, type ModelEventLog } from "../model";
import { openLogFile } from "./open";
import { progressBar } from "./progress";
import { type SliceSummary, summarise } from "./summary";

/** What replay reports. */
export interface ReplayResult {
  readonly file: string;
  /** The last record applied. */
  readonly seq: number;
  /** SHA-256 of the canonical state (eventlog stateHash). */
  readonly hash: string;
  readonly summary: Record<string, SliceSummary>;
  /** The log, positioned at `seq` (for inspect). */
  readonly log: ModelEventLog;
}

/**
 * Replay `file` up to record `to` (inclusive; default all).
 * @throws UsageError if `to` lies beyond the end; LogFormatError for a bad line.
 */
export async function replayLog(file: string, to?: number): Promise<ReplayResult> {
  const opened = await openLogFile(file);
  const { log } = createModel(opened.platform, { empty: true });
  const progress = progressBar(`replay ${file}`, opened.size);
  try {
    for await (const batch of opened.batches) {
      const last = batch[batch.length - 1]!;
      if (to !== undefined && last.seq > to) {
        log.append(batch.filter((r) => r.seq <= to));
        break;
      }
      log.append(batch);
      progress.update(opened.bytesRead(), log.seq);
    }
  } finally {
    progress.end();
  }
  if (to !== undefined && log.seq < to)
    throw new UsageError(`${file}: --to ${to}: the log ends at seq ${log.seq}`);
  const state = log.state;
  return { file, seq: log.seq, hash: stateHash(state), summary: summarise(state), log };
}
