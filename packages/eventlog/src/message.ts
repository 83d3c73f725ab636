/**
 * Messages and records: the envelopes that flow through the log.
 *
 * A message is `{type, data, metadata?}` (emmett's envelope). A record is a
 * message the log committed, with its position `seq` in the log and whether
 * it is a command (the intent) or an event (the fact).
 */
import type { Metadata } from "@iommu-sim/uapi";

export type { Metadata } from "@iommu-sim/uapi";

/** A command or event envelope. `type` is dotted, subsystem first (`ioas.map`). */
export interface Message<T extends string = string, D = unknown> {
  readonly type: T;
  readonly data: D;
  readonly metadata?: Metadata;
}

/** Whether a record is a command or an event. */
export type RecordKind = "command" | "event";

/**
 * A committed message. `seq` numbers every record of the log from 1 with no
 * gaps; a committed command's record comes just before its events' records.
 * Failed commands leave no record.
 */
export interface LogRecord<M extends Message = Message> {
  readonly seq: number;
  readonly kind: RecordKind;
  readonly type: M["type"];
  readonly data: M["data"];
  readonly metadata?: Metadata;
}
