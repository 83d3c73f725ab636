/**
 * Commands and events of the `mm.` subsystem. Owned by the package that
 * implements it; see docs/CONVENTIONS.md ("Messages").
 */
import type { MessageDef } from "./message";

/** Every `mm.` message definition. */
export const mmMessages = [] as const satisfies readonly MessageDef[];
