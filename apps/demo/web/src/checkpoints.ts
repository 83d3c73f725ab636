/**
 * States the viewer has been to, kept for the slider to come back to.
 *
 * The log keeps a snapshot every VIEWER_SNAPSHOT_EVERY (256) records:
 * cheap to take, but each seals the epoch, so the next writes of every
 * bulk table copy their frames — a snapshot every 16 records would make
 * loading 2–3× slower. Yet one record can be costly to evolve (the demo's
 * 3 GiB guest mapping pins 786,432 pages and fills a VT-d domain), and
 * every position after it in its 256-block would evolve it again. So the
 * viewer keeps its own checkpoints, only where the slider goes: every
 * `every` records along the paths it walked, taken once (sealed, so the
 * state cannot change in place) and reused.
 */
import { type EventLog, type Message, sealEpoch } from "@iommu-sim/eventlog";
import { VIEWER_SNAPSHOT_EVERY } from "./load";
import type { ViewerRoot } from "./system";

/** Checkpoints kept at most; past it they are dropped and taken again as needed (bounds memory on huge logs). */
const CAPACITY = 4096;

/** Lazily taken checkpoints of one loaded log. */
export class Checkpoints {
  private readonly states = new Map<number, ViewerRoot>();

  /**
   * @param log the loaded log (its records must not change afterwards).
   * @param every checkpoint spacing in records (default 16).
   * @param snapshotEvery the log's own snapshot spacing (a multiple of `every`; default VIEWER_SNAPSHOT_EVERY).
   */
  constructor(
    private readonly log: EventLog<Message, Message, ViewerRoot>,
    private readonly every = 16,
    private readonly snapshotEvery = VIEWER_SNAPSHOT_EVERY,
  ) {}

  /** Checkpoints held (for tests and memory accounting). */
  get size(): number {
    return this.states.size;
  }

  /**
   * The state after record `seq`: from the nearest checkpoint at or below
   * it (taking the missing checkpoints on the way from the log's own
   * nearest snapshot), plus at most `every − 1` evolves.
   * @throws RangeError when seq is outside the log (as `stateAt`).
   */
  stateAt(seq: number): ViewerRoot {
    const log = this.log;
    const first = log.seq - log.records.length;
    if (!Number.isInteger(seq) || seq < first || seq > log.seq)
      throw new RangeError(`stateAt(${seq}): outside [${first}, ${log.seq}]`);
    const k = seq - ((seq - first) % this.every);
    // Down to a checkpoint, or to a position of the log's own snapshots (where stateAt costs nothing).
    let at = k;
    while (!this.states.has(at) && (at - first) % this.snapshotEvery !== 0) at -= this.every;
    let state = this.states.get(at) ?? log.stateAt(at);
    if (this.states.size + (k - at) / this.every > CAPACITY) this.states.clear();
    while (at < k) {
      state = this.evolve(state, at, at + this.every);
      at += this.every;
      sealEpoch();
      this.states.set(at, state);
    }
    if (seq === k) return state;
    state = this.evolve(state, k, seq);
    sealEpoch();
    return state;
  }

  /** `state` (after record `from`) evolved through records `from + 1 … to`. */
  private evolve(state: ViewerRoot, from: number, to: number): ViewerRoot {
    const log = this.log;
    const first = log.seq - log.records.length + 1;
    for (let s = from + 1; s <= to; s++) {
      const r = log.records[s - first]!;
      if (r.kind === "event") state = log.decider.evolve(state, r as Message);
    }
    return state;
  }
}
