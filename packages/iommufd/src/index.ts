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
export {
  deviceInfo,
  deviceOf,
  domainRef,
  driverKey,
  hwptDriverKey,
  mockDeviceInfo,
  objectDevice,
} from "./devices";
export type {
  AllocatedDomain,
  DeviceInfo,
  DmaAccess,
  DriverKind,
  HwInfo,
  HwRoot,
  IommuDriver,
  ReservedRange,
  Translation,
  UserData,
  UserDataArray,
  UserInvalidation,
  ViommuInit,
  ViommuRef,
} from "./drivers/driver";
export { type AreaMap, type IoasFollowEvent, smmuFollowing, vtdFollowing } from "./drivers/follow";
export { driverOf } from "./drivers/index";
export { withTableSteps } from "./drivers/map-steps";
export { mockDriver } from "./drivers/mock";
export { smmuDomainDescriptor, smmuDriver } from "./drivers/smmu";
export { smmuAllocNested } from "./drivers/smmu-nested";
export { copyUserData, userArrayEntry } from "./drivers/user-data";
export { vtdDomainDescriptor, vtdDriver } from "./drivers/vtd";
export { vtdAllocNested, vtdUserInvalidate } from "./drivers/vtd-nested";
export { evolveIommufd } from "./evolve";
export {
  acceptedResponses,
  decideFaultAlloc,
  decideFaultRead,
  decideFaultRespond,
  decideTriggerIopf,
  faultQueue,
  PAGE_RESPONSE_SIZE,
  PGFAULT_SIZE,
} from "./fault/decide";
export { evolveFaults } from "./fault/evolve";
export { groupRecords } from "./fault/fd";
export {
  IOMMU_PAGE_RESP_FAILURE,
  responseEvents,
  smmuResponseCmd,
  vtdResponseBytes,
} from "./fault/hw-response";
export type { FaultQueue, FaultSource, IopfGroup, PageFault } from "./fault/queue";
export { boundDevice, routeHwRequest } from "./fault/route";
export {
  DEFAULT_POLLMASK,
  iommufdFilePoll,
  iommufdFileRead,
  iommufdFileRelease,
  iommufdFileWrite,
  POLLERR,
  POLLIN,
  POLLOUT,
  POLLRDNORM,
} from "./files";
export {
  decideHwQueueAlloc,
  type HwQueueAllocRequest,
  hwQueueDestroyEffects,
} from "./hw-queue";
export { decideHwptInvalidate, type HwptInvalidateRequest } from "./hwpt-invalidate";
export {
  decideHwptNestedAlloc,
  decideViommuHwptNestedAlloc,
  hwptIoasId,
  hwptNestedDestroyEffects,
  type NestedAllocRequest,
  nestingParentId,
} from "./hwpt-nested";
export { decideIoasAlloc } from "./ioas";
export { type IoctlCall, respond, ret } from "./ioctl/call";
export { iommufdIoctl } from "./ioctl/dispatch";
export type { IoctlEnv, IommufdFile, UserMemory } from "./ioctl/env";
export { hwQueueAlloc } from "./ioctl/hw-queue-handlers";
export { hwptAllocData, hwptInvalidate, MAX_USER_DATA } from "./ioctl/nested-handlers";
export { type LogAccess, processMemory } from "./ioctl/process-memory";
export { kobjOf } from "./ioctl/resolve";
export { veventqAlloc } from "./ioctl/veventq-handlers";
export { vdeviceAlloc, viommuAlloc } from "./ioctl/viommu-handlers";
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
  accessDestroyEffects,
  accessObject,
  decideAccessCreate,
  decideAccessPages,
  decideAccessPagesDestroy,
  decideAccessRelease,
  decideAccessReplaceIoas,
  decideAccessWrite,
} from "./selftest/access";
export { releaseAccessFile } from "./selftest/access-file";
export { hwQueueAt, mockHwQueueInit, mockHwQueueTypeSupported } from "./selftest/hw-queue";
export {
  decideMockNestedAlloc,
  evolveMockNested,
  mockNestedDomain,
  mockNestedInvalidate,
} from "./selftest/nested";
export { devCheckCache, mdCheckIotlb } from "./selftest/nested-checks";
export {
  checkMockRidCompat,
  decideMockPasidAttach,
  decideMockPasidDetach,
  decideMockPasidReplace,
  mockPasidCheckHwpt,
  mockPasidDetachAll,
  mockPasidHwpt,
} from "./selftest/pasid";
export { decideTriggerVevent, triggerVevent } from "./selftest/vevent";
export {
  mockViommuAllocNested,
  mockViommuInit,
  mockViommuInvalidate,
  mockViommuTypeSupported,
} from "./selftest/viommu";
export {
  type AccountMode,
  type HwDomainRef,
  INITIAL_IOMMUFD_STATE,
  type IommufdContext,
  type IommufdObject,
  type IommufdState,
  type MockNestedDomain,
  type ObjectType,
} from "./state";
export { createIommufd, type IommufdOptions } from "./subsystem";
export * from "./sva";
export {
  createEmptySystemLog,
  createSystem,
  createSystemLog,
  platformUnitCommands,
  SMMU_TABLE_BASE,
  type SystemState,
  VTD_TABLE_BASE,
} from "./system";
export {
  decideVdeviceAlloc,
  type VdeviceAllocRequest,
  vdeviceByVirtId,
  vdeviceOfDevice,
  vdeviceRemoveEffects,
} from "./vdevice";
export {
  decideVeventqAlloc,
  decideVeventqRead,
  decideVeventqRelease,
  findVeventq,
  reportVevent,
  type VeventqAllocRequest,
  veventQueue,
} from "./veventq/decide";
export { evolveVeventqs } from "./veventq/evolve";
export { veventqFilePoll, veventqFileRead, veventqFileRelease, veventRecordBytes } from "./veventq/fd";
export {
  emptyVeventQueue,
  pendingRecords,
  queueLost,
  queueVevent,
  recordsThatFit,
  takeRecords,
  VEVENT_HEADER_SIZE,
  VEVENT_SEQUENCE_MAX,
  type Vevent,
  type VeventQueue,
  type VeventRecord,
  veventqFull,
} from "./veventq/queue";
export { compatIoas, decideVfioIoasSet } from "./vfio-ioas";
export { decideViommuAlloc, type ViommuAllocRequest, viommuRef } from "./viommu";
