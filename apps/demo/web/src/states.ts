/**
 * The state at a sequence number together with the state just before it,
 * so the view can tell which slices the selected record changed.
 *
 * Both come from one evolve chain: `before = stateAt(seq − 1)` (nearest
 * snapshot + tail), then `root = evolve(before, record seq)`. Slices are
 * immutable and untouched slices keep their identity along a chain, so
 * "changed" is a reference comparison. (Two separate `stateAt` calls would
 * re-evolve independently and make every slice touched since the snapshot
 * look changed.)
 */
import { type EventLog, type Message, sealEpoch } from "@iommu-sim/eventlog";
import type { Checkpoints } from "./checkpoints";
import type { ViewerRoot } from "./system";

/** The state after record `seq`, the one before it, and the slice keys that differ. */
export interface StateStep {
  readonly root: ViewerRoot;
  /** Undefined at seq 0 (no record yet). */
  readonly before: ViewerRoot | undefined;
  /** Root keys whose slice the record at `seq` replaced (none for a command record). */
  readonly changed: readonly string[];
}

/**
 * The state after record `seq` of `log` and the one before it; the one
 * before from `checkpoints` when given (the viewer's), else `stateAt`.
 * @throws RangeError when seq is outside the log (as `stateAt`).
 */
export function stateStep(
  log: EventLog<Message, Message, ViewerRoot>,
  seq: number,
  checkpoints?: Checkpoints,
): StateStep {
  if (seq === 0) return { root: log.stateAt(0), before: undefined, changed: [] };
  const before = checkpoints === undefined ? log.stateAt(seq - 1) : checkpoints.stateAt(seq - 1);
  const first = log.seq - log.records.length + 1;
  const record = log.records[seq - first];
  if (record === undefined) throw new RangeError(`stateStep(${seq}): outside [1, ${log.seq}]`);
  const root = record.kind === "event" ? log.decider.evolve(before, record as Message) : before;
  // Seal what the evolve wrote, as stateAt does: the state handed out must never change in place.
  sealEpoch();
  const changed = Object.keys(root).filter((k) => root[k] !== before[k]);
  return { root, before, changed };
}
