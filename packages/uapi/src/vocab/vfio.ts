/**
 * Commands and events of the `vfio.` subsystem. Owned by the package that
 * implements it; see docs/CONVENTIONS.md ("Messages").
 */
import type { MessageDef } from "./message";

/** Every `vfio.` message definition. */
export const vfioMessages = [] as const satisfies readonly MessageDef[];
