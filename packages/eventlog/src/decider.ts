/**
 * Deciders (Jérémie Chassaing's functional event sourcing) and how they
 * combine into the root decider of a whole system.
 */
import type { Errno, ErrnoName } from "@iommu-sim/uapi";
import type { Message } from "./message";

/**
 * What `decide` may ask of the runtime besides its arguments.
 *
 * `step` marks a fallible step — an allocation, a copy from user memory, a
 * page-table allocation — exactly where Linux could fail (the places
 * Linux's fail_nth reaches). It returns the `Errno` to fail with when fault
 * injection targets this step, else `undefined`; decide must then return
 * that errno. Without injection it always returns `undefined`.
 */
export interface DecideContext {
  /**
   * @param site a stable name of the step, e.g. `"iopt.pin_pages"`.
   * @param as the errno this step fails with in Linux (default `ENOMEM`).
   */
  step(site: string, as?: ErrnoName): Errno | undefined;
}

/**
 * A decider: `decide(state, command, ctx) → events | Errno` and
 * `evolve(state, event) → state`, both pure and total. User-triggerable
 * failures are `Errno` values, never exceptions.
 */
export interface Decider<C extends Message, E extends Message, S> {
  readonly initialState: S;
  decide(state: S, command: C, ctx: DecideContext): readonly E[] | Errno;
  evolve(state: S, event: E): S;
}

/** The context a subsystem's `decide` gets: the runtime's plus read access to the whole root state. */
export interface SubsystemDecideContext<R> extends DecideContext {
  /** The root state (every subsystem's slice), read-only. */
  readonly root: R;
}

/**
 * One subsystem of a root decider: it owns one slice of the root state,
 * decides the commands whose type starts with one of `commands`, and evolves
 * its slice on the events whose type starts with one of `events` (every
 * event when `events` is absent), with read access to the whole root.
 */
export interface Subsystem<C extends Message, E extends Message, S, R = unknown> {
  /** Command type prefixes routed here, e.g. `["ioas."]`; a prefix belongs to one subsystem. */
  readonly commands: readonly string[];
  /** Event type prefixes this slice evolves on; absent = all events. */
  readonly events?: readonly string[];
  readonly initialState: S;
  decide(state: S, command: C, ctx: SubsystemDecideContext<R>): readonly E[] | Errno;
  /**
   * @param root the root state in which the slices declared before this one
   *   have already evolved on `event`; this slice's entry is `state`.
   */
  evolve(state: S, event: E, root: R): S;
}
