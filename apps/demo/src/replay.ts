/**
 * The log on disk and back: write a live log as JSON Lines (eventlog's
 * `encodeLog`), read it again with every line validated against the
 * system vocabulary (`readLog`), append the records into an empty system
 * log (`createEmptyVfioSystemLog`: the file carries its own unit commands) and
 * compare the state hashes. Node only (files).
 */
import { createReadStream, writeFileSync } from "node:fs";
import { encodeLog, readLog, stateHash, Vocabulary } from "@iommu-sim/eventlog";
import { DEFAULT_PLATFORM } from "@iommu-sim/iommufd";
import { VOCABULARY } from "@iommu-sim/uapi";
import { createEmptyVfioSystemLog } from "@iommu-sim/vfio-compat";
import type { SystemLog } from "./story/fds";

/** What the round trip found. */
export interface ReplayCheck {
  /** The file written. */
  readonly file: string;
  /** Records in the live log (and in the file). */
  readonly records: number;
  /** Records replayed from the file. */
  readonly replayed: number;
  /** `stateHash` of the live state and of the replayed one (hex). */
  readonly live: string;
  readonly again: string;
}

/**
 * Write `log` to `file` and replay it from there.
 * @throws Error from the file system, or when a line fails validation (readLog's `file:line: field: reason`).
 */
export async function writeAndReplay(log: SystemLog, file: string): Promise<ReplayCheck> {
  writeFileSync(file, encodeLog(log.records, { demo: "iommu-sim", platform: DEFAULT_PLATFORM }));
  const fromDisk = await readLog(createReadStream(file), { vocabulary: new Vocabulary(VOCABULARY), file });
  const replayed = createEmptyVfioSystemLog();
  for await (const batch of fromDisk.batches) replayed.append(batch as never);
  return {
    file,
    records: log.seq,
    replayed: replayed.seq,
    live: stateHash(log.state),
    again: stateHash(replayed.state),
  };
}
