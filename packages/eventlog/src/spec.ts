/**
 * Given/when/then specifications of deciders (after Oskar Dudycz's
 * `DeciderSpecification`), and a fail-nth sweep. Framework-agnostic: a
 * failed expectation throws an `Error` whose message shows both sides.
 */
import { type Errno, type ErrnoName, isErrno } from "@iommu-sim/uapi";
import { encodeCanonical } from "./canonical/encode";
import type { Decider } from "./decider";
import { sealEpoch } from "./epoch";
import { StepCounter } from "./fault";
import { stateHash } from "./hash";
import type { Message } from "./message";

function show(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) => (typeof x === "bigint" ? `0x${x.toString(16)}n` : x instanceof Map ? [...x] : x),
    1,
  );
}

function sameValue(a: unknown, b: unknown): boolean {
  const x = encodeCanonical(a);
  const y = encodeCanonical(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** What `when` produced, with assertions on it. */
export interface Outcome<E, S> {
  /** The events decided, or the Errno. */
  readonly result: readonly E[] | Errno;
  /** The state after evolving the decided events (the given state on failure). */
  readonly state: S;
  /** Fallible steps reached while deciding. */
  readonly steps: readonly string[];
  /** Expect exactly these events (canonical equality: key order does not matter). */
  thenEvents(expected: readonly E[]): Outcome<E, S>;
  /** Expect failure with this errno. */
  thenFails(name: ErrnoName): Outcome<E, S>;
  /** Run checks on the resulting state (throw to fail). */
  thenState(check: (state: S) => void): Outcome<E, S>;
}

/** A specification in progress: the state built from `given` events. */
export interface Given<C, E, S> {
  /** Decide `command` on the given state; `failNth` arms fault injection at that step. */
  when(command: C, options?: { failNth?: number }): Outcome<E, S>;
}

/**
 * Start a specification: `specify(d).given([...events]).when(cmd).thenEvents([...])`.
 */
export function specify<C extends Message, E extends Message, S>(decider: Decider<C, E, S>) {
  return {
    /** Evolve the initial state through `events` (or start from `state`). */
    given(events: readonly E[] = [], state: S = decider.initialState): Given<C, E, S> {
      // The given state (often the shared initialState) must never be written in place.
      sealEpoch();
      let s = state;
      for (const e of events) s = decider.evolve(s, e);
      return {
        when(command: C, options: { failNth?: number } = {}): Outcome<E, S> {
          const ctx = new StepCounter(options.failNth ?? 0);
          sealEpoch();
          const result = decider.decide(s, command, ctx);
          let after = s;
          if (!isErrno(result)) for (const e of result) after = decider.evolve(after, e);
          const outcome: Outcome<E, S> = {
            result,
            state: after,
            steps: ctx.sites,
            thenEvents(expected) {
              if (isErrno(result))
                throw new Error(`expected events ${show(expected)}, got ${result.toString()}`);
              if (!sameValue(result, expected))
                throw new Error(`expected events ${show(expected)}\n   got ${show(result)}`);
              return outcome;
            },
            thenFails(name) {
              if (!isErrno(result)) throw new Error(`expected ${name}, got events ${show(result)}`);
              if (result.name !== name) throw new Error(`expected ${name}, got ${result.toString()}`);
              return outcome;
            },
            thenState(check) {
              check(after);
              return outcome;
            },
          };
          return outcome;
        },
      };
    },
  };
}

/** The result of `sweepFailNth`. */
export interface SweepReport {
  /** Number of fallible steps the command has (it succeeded with step n+1 armed). */
  readonly steps: number;
  /** The site failed at each n (1-based index = n). */
  readonly sites: readonly string[];
}

/**
 * For n = 1, 2, … decide `command` with the nth fallible step failing, until
 * it succeeds without reaching step n. Each failing run must return an Errno
 * (never events); the state is never evolved by a failed decide, and the
 * hash of `state` is checked unchanged after each run.
 * @throws Error if a run with an injected fault still produced events, or
 *   decide changed the state it was given.
 */
export function sweepFailNth<C extends Message, E extends Message, S>(
  decider: Decider<C, E, S>,
  state: S,
  command: C,
  maxSteps = 10_000,
): SweepReport {
  const before = stateHash(state);
  const sites: string[] = [];
  for (let n = 1; n <= maxSteps; n++) {
    const ctx = new StepCounter(n);
    const result = decider.decide(state, command, ctx);
    if (stateHash(state) !== before) throw new Error(`decide mutated its state at fail-nth ${n}`);
    if (!ctx.fired) {
      if (isErrno(result)) throw new Error(`command fails without injection: ${result.toString()}`);
      return { steps: n - 1, sites };
    }
    sites.push(ctx.sites[n - 1]!);
    if (!isErrno(result))
      throw new Error(`fail-nth ${n} at '${ctx.sites[n - 1]}' was ignored: events returned`);
  }
  throw new Error(`more than ${maxSteps} fallible steps`);
}

export { sameValue as canonicalEqual };
