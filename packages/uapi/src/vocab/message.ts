/**
 * Message definitions: the typed commands and events of the whole system.
 *
 * A message is an envelope `{type, data, metadata?}` (Chassaing's decider,
 * emmett's envelope). Each subsystem declares its messages with `command()`
 * and `event()` in a file of its own under `vocab/`, and lists them in
 * `vocab/index.ts` so the event log can validate a log file line by line.
 */
import type { Static, TSchema } from "@sinclair/typebox";

/** Free-form metadata (timestamps, actor, correlation ids); never read by decide/evolve. */
export type Metadata = Readonly<Record<string, unknown>>;

/** Whether a message is a command (an intent) or an event (a fact). */
export type MessageKind = "command" | "event";

/**
 * The definition of one message type.
 * `type` is dotted, subsystem first (`ioas.map`, `ioas.mapped`); the root
 * decider routes commands by that prefix.
 */
export interface MessageDef<T extends string = string, S extends TSchema = TSchema> {
  readonly kind: MessageKind;
  readonly type: T;
  /** Schema of `data` (its JSON form; static type = in-memory form). */
  readonly data: S;
  /** One line: what it means, and the Linux source it mirrors. */
  readonly doc: string;
}

/** Define a command type. */
export function command<T extends string, S extends TSchema>(
  type: T,
  data: S,
  doc: string,
): MessageDef<T, S> {
  return Object.freeze({ kind: "command", type, data, doc });
}

/** Define an event type. */
export function event<T extends string, S extends TSchema>(type: T, data: S, doc: string): MessageDef<T, S> {
  return Object.freeze({ kind: "event", type, data, doc });
}

/** The in-memory message (envelope) of a definition. */
export type MessageOf<D extends MessageDef> =
  D extends MessageDef<infer T, infer S>
    ? { readonly type: T; readonly data: Static<S>; readonly metadata?: Metadata }
    : never;

/** The union of in-memory messages of a list of definitions. */
export type MessagesOf<L extends readonly MessageDef[]> = MessageOf<L[number]>;
