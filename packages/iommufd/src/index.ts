/**
 * @packageDocumentation
 * /dev/iommu: contexts, the object table, ioctl dispatch on bytes, devices,
 * HW page tables on the selftest mock, Intel VT-d and ARM SMMUv3 drivers,
 * platform devices (Linux drivers/iommu/iommufd).
 */

export { type AttachTarget, resolveAttachTarget } from "./attach";
export { decideClose, decideOpen } from "./context";
export { decideDestroy } from "./destroy";
export { destroyEffects } from "./destroy-hooks";
export {
  decideDeviceAttach,
  decideDeviceDetach,
  decideDeviceReplace,
  decideDeviceUnbind,
  deviceDetachEffects,
} from "./device-attach";
export { decideDeviceBind } from "./device-bind";
export { deviceInfo, driverKey, hwptDriverKey, objectDevice } from "./devices";
export type {
  AllocatedDomain,
  DeviceInfo,
  DriverKind,
  HwInfo,
  HwRoot,
  IommuDriver,
  ReservedRange,
} from "./drivers/driver";
export { type IoasFollowEvent, smmuFollowing, vtdFollowing } from "./drivers/follow";
export { driverOf } from "./drivers/index";
export { smmuDomainDescriptor, smmuDriver } from "./drivers/smmu";
export { vtdDomainDescriptor, vtdDriver } from "./drivers/vtd";
export { evolveIommufd } from "./evolve";
export { decideIoasAlloc } from "./ioas";
export { type IoctlCall, respond, ret } from "./ioctl/call";
export { iommufdIoctl } from "./ioctl/dispatch";
export type { IoctlEnv, IommufdFile, UserMemory } from "./ioctl/env";
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
  pasidDevices,
  rid,
  SmmuUnitSchema,
  VtdUnitSchema,
} from "./platform";
export type { IommufdRoot, RootEvolve } from "./root";
export {
  type AccountMode,
  type HwDomainRef,
  INITIAL_IOMMUFD_STATE,
  type IommufdContext,
  type IommufdObject,
  type IommufdState,
  type ObjectType,
} from "./state";
export { createIommufd, type IommufdOptions } from "./subsystem";
export {
  createEmptySystemLog,
  createSystem,
  createSystemLog,
  platformUnitCommands,
  SMMU_TABLE_BASE,
  type SystemState,
  VTD_TABLE_BASE,
} from "./system";
export { compatIoas, decideVfioIoasSet } from "./vfio-ioas";
