/**
 * The command and event vocabulary of the whole system.
 *
 * Each subsystem keeps its messages in `vocab/<subsystem>.ts` and adds its
 * list to `VOCABULARY` below; the event log validates logs against it.
 */
import type { MessageDef } from "./message";

export * from "./message";
export * from "./schema";

/** Every message definition the system knows, in no particular order. */
export const VOCABULARY: readonly MessageDef[] = [];
