/**
 * @packageDocumentation
 * /dev/iommu: contexts, the object table, ioctl dispatch on bytes, devices,
 * HW page tables, fault queues and Linux's selftest mock driver (Linux
 * drivers/iommu/iommufd).
 */

export { type AttachTarget, resolveAttachTarget } from "./attach";
export { decideClose, decideOpen } from "./context";
export { decideDestroy } from "./destroy";
export { destroyEffects } from "./destroy-hooks";
export { evolveIommufd } from "./evolve";
export { decideIoasAlloc } from "./ioas";
export { type IoctlCall, respond, ret } from "./ioctl/call";
export { iommufdIoctl } from "./ioctl/dispatch";
export type { IoctlEnv, UserMemory } from "./ioctl/env";
export { type LogAccess, processMemory } from "./ioctl/process-memory";
export { kobjOf } from "./ioctl/resolve";
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
export type { IommufdRoot, RootEvolve } from "./root";
export {
  type AccountMode,
  INITIAL_IOMMUFD_STATE,
  type IommufdContext,
  type IommufdObject,
  type IommufdState,
  type ObjectType,
} from "./state";
export { createIommufd, type IommufdOptions } from "./subsystem";
export { createSystem, createSystemLog, type SystemState } from "./system";
export { compatIoas, decideVfioIoasSet } from "./vfio-ioas";
