/**
 * Commands and events of the `ioasid.` subsystem. Owned by the package that
 * implements it; see docs/CONVENTIONS.md ("Messages").
 */
import type { MessageDef } from "./message";

/** Every `ioasid.` message definition. */
export const ioasidMessages = [] as const satisfies readonly MessageDef[];
