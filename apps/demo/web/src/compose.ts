/**
 * `withSubsystems`: add subsystems to a root decider that lacks them — the
 * viewer's way to show slices whose packages exist before the shared
 * `createSystem` composes them. A key the base root already has is left to
 * the base (so when `createSystem` gains a subsystem, the base's wins).
 */
import type { DecideContext, Decider, Message, Subsystem } from "@iommu-sim/eventlog";
import { errno } from "@iommu-sim/uapi";

type Root = Readonly<Record<string, unknown>>;
// biome-ignore lint/suspicious/noExplicitAny: heterogeneous subsystems, as in eventlog's combine
type AnySubsystem = Subsystem<any, any, any, any>;

const matches = (prefixes: readonly string[] | undefined, type: string) =>
  prefixes === undefined || prefixes.some((p) => type.startsWith(p));

/**
 * `base` plus the slices of `extra` that `base.initialState` lacks.
 * - decide: a command whose type starts with one of an added subsystem's
 *   `commands` goes to it (with the whole root to read); every other
 *   command to `base`. Two added subsystems claiming one prefix → the first.
 * - evolve: `base` first, then each added subsystem listening to the
 *   event's prefix, in `extra`'s order, given the root as `base` left it.
 *   `base.evolve` must keep the root members it does not own (combine's does).
 * Routing is cached per message type, as combine caches it.
 * @returns `base` itself when nothing is added.
 */
export function withSubsystems(
  base: Decider<Message, Message, Root>,
  extra: Readonly<Record<string, AnySubsystem>>,
): Decider<Message, Message, Root> {
  const added = Object.entries(extra).filter(([k]) => !(k in base.initialState));
  if (added.length === 0) return base;
  const initialState: Root = {
    ...base.initialState,
    ...Object.fromEntries(added.map(([k, s]) => [k, s.initialState])),
  };
  const owners = new Map<string, readonly [string, AnySubsystem] | null>();
  const listeners = new Map<string, readonly (readonly [string, AnySubsystem])[]>();
  const ownerOf = (type: string) => {
    let o = owners.get(type);
    if (o === undefined) {
      o = added.find(([, s]) => matches(s.commands, type)) ?? null;
      owners.set(type, o);
    }
    return o;
  };
  const listenersOf = (type: string) => {
    let l = listeners.get(type);
    if (l === undefined) {
      l = added.filter(([, s]) => matches(s.events, type));
      listeners.set(type, l);
    }
    return l;
  };
  return {
    initialState,
    decide(state: Root, command: Message, ctx: DecideContext) {
      const owner = ownerOf(command.type);
      if (owner === null) return base.decide(state, command, ctx);
      const [key, sub] = owner;
      // A type under the subsystem's prefix that its decide does not handle falls through its switch.
      const result = sub.decide(state[key], command, { step: ctx.step, root: state });
      return result ?? errno("ENOTTY", `no decision for '${command.type}'`);
    },
    evolve(state: Root, event: Message): Root {
      let root = base.evolve(state, event);
      for (const [key, sub] of listenersOf(event.type)) {
        const before = root[key];
        const after = sub.evolve(before, event, root);
        if (after !== before) root = { ...root, [key]: after };
      }
      return root;
    },
  };
}
