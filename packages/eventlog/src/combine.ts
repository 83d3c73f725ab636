/**
 * `combine`: many subsystems → one root decider. Commands are routed by type
 * prefix; every event is offered, in declaration order, to each subsystem
 * that listens to its prefix.
 */
import { type Errno, errno } from "@iommu-sim/uapi";
import type { DecideContext, Decider, Subsystem } from "./decider";
import type { Message } from "./message";

// biome-ignore lint/suspicious/noExplicitAny: heterogeneous subsystem map
type AnySubsystem = Subsystem<any, any, any, any>;

/** The root state of a subsystem map: one slice per key. */
export type RootState<M extends Record<string, AnySubsystem>> = {
  readonly [K in keyof M]: M[K]["initialState"];
};
/** The union of the commands of a subsystem map. */
export type RootCommand<M extends Record<string, AnySubsystem>> = Parameters<M[keyof M]["decide"]>[1];
/** The union of the events of a subsystem map. */
export type RootEvent<M extends Record<string, AnySubsystem>> = Parameters<M[keyof M]["evolve"]>[1];

function matches(prefixes: readonly string[] | undefined, type: string): boolean {
  if (prefixes === undefined) return true;
  for (const p of prefixes) if (type.startsWith(p)) return true;
  return false;
}

/**
 * Combine subsystems into a root decider.
 *
 * - `decide` routes a command to the one subsystem owning its type prefix
 *   (the longest matching prefix wins); no owner → `ENOTTY`, as Linux answers
 *   an ioctl nobody implements.
 * - `evolve` hands the event to each listening subsystem in declaration
 *   order; a slice returned unchanged (same reference) costs nothing.
 * Routing tables are cached per type string, so routing is one Map lookup.
 */
export function combine<M extends Record<string, AnySubsystem>>(
  subsystems: M,
): Decider<RootCommand<M>, RootEvent<M>, RootState<M>> {
  const keys = Object.keys(subsystems) as (keyof M & string)[];
  const initialState = Object.fromEntries(keys.map((k) => [k, subsystems[k]!.initialState])) as RootState<M>;
  const owners = new Map<string, (keyof M & string) | null>();
  const listeners = new Map<string, (keyof M & string)[]>();

  const ownerOf = (type: string): (keyof M & string) | null => {
    let owner = owners.get(type);
    if (owner !== undefined) return owner;
    let best = -1;
    owner = null;
    for (const k of keys) {
      for (const p of subsystems[k]!.commands) {
        if (type.startsWith(p) && p.length > best) {
          best = p.length;
          owner = k;
        }
      }
    }
    owners.set(type, owner);
    return owner;
  };
  const listenersOf = (type: string): (keyof M & string)[] => {
    let ls = listeners.get(type);
    if (ls === undefined) {
      ls = keys.filter((k) => matches(subsystems[k]!.events, type));
      listeners.set(type, ls);
    }
    return ls;
  };

  return {
    initialState,
    decide(
      state: RootState<M>,
      command: RootCommand<M>,
      ctx: DecideContext,
    ): readonly RootEvent<M>[] | Errno {
      const owner = ownerOf((command as Message).type);
      if (owner === null) return errno("ENOTTY", `no subsystem decides '${(command as Message).type}'`);
      return subsystems[owner]!.decide(state[owner], command, { step: ctx.step, root: state });
    },
    evolve(state: RootState<M>, event: RootEvent<M>): RootState<M> {
      // One copy of the root per event, made at the first changed slice and
      // then updated in place: nothing outside this loop holds it yet (a
      // subsystem's evolve reads `root` and must not keep it).
      let root = state;
      let copied = false;
      for (const k of listenersOf((event as Message).type)) {
        const before = root[k];
        const after = subsystems[k]!.evolve(before, event, root);
        if (after === before) continue;
        if (!copied) {
          root = { ...root };
          copied = true;
        }
        (root as Record<string, unknown>)[k] = after;
      }
      return root;
    },
  };
}
