/**
 * Commands and events of the `vtd.` subsystem. Owned by the package that
 * implements it; see docs/CONVENTIONS.md ("Messages").
 */
import type { MessageDef } from "./message";

/** Every `vtd.` message definition. */
export const vtdMessages = [] as const satisfies readonly MessageDef[];
