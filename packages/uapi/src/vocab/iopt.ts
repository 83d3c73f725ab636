/**
 * Commands and events of the `iopt.` subsystem. Owned by the package that
 * implements it; see docs/CONVENTIONS.md ("Messages").
 */
import type { MessageDef } from "./message";

/** Every `iopt.` message definition. */
export const ioptMessages = [] as const satisfies readonly MessageDef[];
