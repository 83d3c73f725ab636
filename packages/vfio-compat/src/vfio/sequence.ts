/**
 * Events decided one after the other, each step seeing the root state the
 * earlier ones leave — how one VFIO operation composes several iommufd
 * operations (bind, then attach) into one all-or-nothing command.
 */
import { sealEpoch } from "@iommu-sim/eventlog";
import type { RootEvolve } from "@iommu-sim/iommufd";
import { type Errno, isErrno } from "@iommu-sim/uapi";
import type { Decided } from "./messages";
import type { VfioRoot } from "./state";

/** A scratch evolution of the root through the events decided so far. */
export class Sequence {
  readonly events: Decided = [];
  constructor(
    public root: VfioRoot,
    /** The composed system's evolve. */
    readonly evolve: RootEvolve,
  ) {
    // The scratch evolution must not write the live state's bulk tables in place.
    sealEpoch();
  }

  /** Append `events` (or pass an Errno through). @returns the Errno, or undefined. */
  add(events: Decided | Errno): Errno | undefined {
    if (isErrno(events)) return events;
    for (const e of events) {
      this.events.push(e);
      this.root = this.evolve(this.root, e) as VfioRoot;
    }
    return undefined;
  }
}
