/**
 * Epochs: how bulk tables are updated in place yet snapshots stay immutable.
 *
 * Immer is right for the small object graph, wrong for bulk tables (one
 * `Map.set` in a draft copies the whole Map). Bulk structures (`FrameStore`,
 * radix tables) instead tag every node with the epoch it was created in and
 * write in place only into nodes of the current epoch; any older node is
 * copied first (copy-on-write of the touched path).
 *
 * Whenever a state value escapes the runtime (a snapshot, a `state$`
 * emission, `log.state`), the runtime calls `sealEpoch()`: every existing
 * node becomes old, so no later write can change what escaped. Sealing is a
 * counter increment, hence O(1) snapshots.
 *
 * The counter is global and only grows: sealing for one log merely makes
 * other logs copy a little more; it never lets a shared node be written.
 */
let epoch = 1;

/** The current epoch: nodes tagged with it are unshared and writable in place. */
export function currentEpoch(): number {
  return epoch;
}

/** Make every existing bulk node immutable (copy-on-write from now on). O(1). */
export function sealEpoch(): void {
  epoch++;
}
