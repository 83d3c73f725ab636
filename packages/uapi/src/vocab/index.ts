/**
 * The command and event vocabulary of the whole system.
 *
 * Each subsystem keeps its messages in `vocab/<subsystem>.ts`; `VOCABULARY`
 * lists them all, and the event log validates log files against it.
 */
import { ioasidMessages } from "./ioasid";
import { iommufdMessages } from "./iommufd";
import { ioptMessages } from "./iopt";
import type { MessageDef } from "./message";
import { mmMessages } from "./mm";
import { smmuMessages } from "./smmu";
import { vfioMessages } from "./vfio";
import { vtdMessages } from "./vtd";

export * from "./ioasid";
export * from "./iommufd";
export * from "./iopt";
export * from "./message";
export * from "./mm";
export * from "./schema";
export * from "./smmu";
export * from "./vfio";
export * from "./vtd";

/** Every message definition the system knows, in no particular order. */
export const VOCABULARY: readonly MessageDef[] = [
  ...ioasidMessages,
  ...mmMessages,
  ...ioptMessages,
  ...iommufdMessages,
  ...vtdMessages,
  ...smmuMessages,
  ...vfioMessages,
];
