/**
 * Commands and events of the `iommufd.` subsystem. Owned by the package that
 * implements it; see docs/CONVENTIONS.md ("Messages").
 */
import type { MessageDef } from "./message";

/** Every `iommufd.` message definition. */
export const iommufdMessages = [] as const satisfies readonly MessageDef[];
