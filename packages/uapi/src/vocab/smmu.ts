/**
 * Commands and events of the `smmu.` subsystem. Owned by the package that
 * implements it; see docs/CONVENTIONS.md ("Messages").
 */
import type { MessageDef } from "./message";

/** Every `smmu.` message definition. */
export const smmuMessages = [] as const satisfies readonly MessageDef[];
