/**
 * The message types of the `iopt` subsystem, from the vocabulary in
 * @iommu-sim/uapi (vocab/iopt.ts), split into commands and events.
 */
import type { FrameStore } from "@iommu-sim/eventlog";
import type { IoptMessage, MmMessage } from "@iommu-sim/uapi";
import type { MmState } from "../mm/state";
import type { IoptState } from "./state";

type EventType =
  | "ioas.created"
  | "ioas.destroyed"
  | "ioas.mapped"
  | "ioas.unmapped"
  | "ioas.area_split"
  | "ioas.iovas_allowed"
  | "ioas.reserved"
  | "ioas.unreserved"
  | "ioas.alignment_changed"
  | "ioas.domain_attached"
  | "ioas.domain_detached"
  | "iopt.pages_created"
  | "iopt.pages_pinned"
  | "iopt.pages_unpinned"
  | "iopt.pages_destroyed"
  | "iopt.rlimit_mode_set"
  | "iopt.access_created"
  | "iopt.access_destroyed"
  | "iopt.access_ioas_replaced"
  | "iopt.access_pinned"
  | "iopt.access_unpinned";

/** An event the iopt slice evolves on. */
export type IoptEvent = Extract<IoptMessage, { type: EventType }>;
/** The selftest mock domain's messages (routed to mock-domain/). */
export type MockMessage = Extract<IoptMessage, { type: `iopt.mock.${string}` }>;
/** A command the iopt subsystem decides. */
export type IoptCommand = Exclude<IoptMessage, IoptEvent | MockMessage>;
/** Events iopt decides: its own plus the `mm.` events of faulting pages in and CPU stores through an access. */
export type IoptDecided = IoptEvent | Extract<MmMessage, { type: "mm.faulted" | "mm.phys.written" }>;

/** The data of event/command type `T`. */
export type DataOf<T extends IoptMessage["type"]> = Extract<IoptMessage, { type: T }>["data"];

/** The part of the root state iopt reads: its own slice and the process memory model. */
export interface IoptRoot {
  readonly iopt: IoptState;
  readonly mm: MmState;
}

/** Re-exported for bulk fields in state. */
export type { FrameStore };
