/**
 * @packageDocumentation
 * /dev/iommu: contexts, the object table, ioctl dispatch on bytes, devices,
 * HW page tables, fault queues and Linux's selftest mock driver (Linux
 * drivers/iommu/iommufd).
 */
export { decideClose, decideOpen } from "./context";
export { decideDestroy } from "./destroy";
export { evolveIommufd } from "./evolve";
export { type IoctlCall, respond, ret } from "./ioctl/call";
export { iommufdIoctl } from "./ioctl/dispatch";
export type { IoctlEnv, UserMemory } from "./ioctl/env";
export type { IommufdCommand, IommufdEvent, IommufdMessage } from "./messages";
export { allocObjectId, getContext, getObject, leafFirstOrder, MAX_OBJECT_ID, usersOf } from "./objects";
export { decideOptionSet } from "./option";
export {
  DEFAULT_PLATFORM,
  DeviceSchema,
  MockUnitSchema,
  type Platform,
  type PlatformDevice,
  type PlatformIssue,
  PlatformSchema,
  parsePlatform,
  rid,
  SmmuUnitSchema,
  VtdUnitSchema,
} from "./platform";
export {
  type AccountMode,
  INITIAL_IOMMUFD_STATE,
  type IommufdContext,
  type IommufdObject,
  type IommufdState,
  type ObjectType,
} from "./state";
export { type IommufdRoot, iommufd } from "./subsystem";
