/**
 * @packageDocumentation
 * An Intel VT-d (scalable mode) hardware model: root/context/PASID tables,
 * first- and second-stage page tables in simulated physical memory, the
 * IOTLB / PASID / context caches, queued invalidation, primary fault
 * recording and the page request queue — plus the driver operations
 * iommufd will call (domains, map/unmap, attach, user invalidation, hw info).
 */

export { CacheMap } from "./cache-map";
export { type VtdEmitted, vtd } from "./decider";
export {
  CC_GRAN,
  ccDesc,
  type Descriptor,
  decodeDescriptors,
  descriptorSize,
  devTlbDesc,
  encodeDescriptors,
  IOTLB_GRAN,
  iotlbDesc,
  PC_GRAN,
  PIOTLB_GRAN,
  pageGroupResponseDesc,
  pcDesc,
  pDevTlbDesc,
  piotlbDesc,
  QI_RESP,
  QI_TYPE,
  waitDesc,
} from "./descriptors";
export {
  checkRequest,
  type DmaEvent,
  type DmaFault,
  type DmaRequest,
  type DmaRuns,
  dmaEvents,
  dmaRead,
  translate,
  type VtdRoot,
} from "./dma";
export {
  ADDR_WIDTH_4LEVEL,
  ADDR_WIDTH_5LEVEL,
  type AttachRequest,
  allocIdentity,
  allocNested,
  allocPaging,
  allocSva,
  attachDevice,
  checkAllocIdentity,
  checkAllocNested,
  checkAllocPaging,
  checkAllocSva,
  checkAttach,
  checkDetach,
  checkMap,
  checkSetDirtyTracking,
  checkUnmap,
  clearDirty,
  type DirtyRange,
  detachDevice,
  deviceCaps,
  domainInUse,
  flushIotlbRange,
  hwInfo,
  IDENTITY_DID,
  iotlbFlushDescriptors,
  MSI_WINDOW,
  mapDomain,
  type PagingOptions,
  pasidEntryFor,
  type ReservedRegion,
  readDirty,
  reservedRegions,
  setDirtyTracking,
  teardownPasidEntry,
  type UserInvalidation,
  unmapDomain,
  userInvalidate,
} from "./driver";
export {
  CONTEXT_ENTRY_SIZE,
  type ContextEntry,
  contextEntryReservedSet,
  decodeContextEntry,
  decodePasidEntry,
  decodeRootEntry,
  EMPTY_PASID_ENTRY,
  encodeContextEntry,
  encodePasidDirEntry,
  encodePasidEntry,
  encodeRootEntry,
  PASID_DIR_ENTRY_SIZE,
  PASID_ENTRY_SIZE,
  PASID_PDE_SHIFT,
  type PasidEntry,
  PGTT,
  ROOT_ENTRY_SIZE,
  type RootEntry,
} from "./entries";
export { type FaultReason, FR, isRecoverable } from "./fault-reasons";
export { Iotlb, PERM, PERM_ALL, TLB_CLASS, type TlbEntry, tagClass, tagDid, tagPasid, tlbTag } from "./iotlb";
export { type Mem, type MmSlice, memOf, type PhysMemory } from "./memory";
export {
  decodePageRequest,
  encodePageRequest,
  freeGroupIndex,
  IOMMU_FAULT_PAGE_RESPONSE_NEEDS_PASID,
  type PageRequest,
  PRQ_TYPE_PAGE_REQUEST,
  pageRequestToPgfault,
  pageResponseFor,
  pendingPageRequests,
  prqFull,
  prqRoom,
} from "./prq";
export { FL, FL_XD_HI, flEntry, SL, slEntry } from "./pte";
export { executeDescriptor, invalidateIotlb, type StatusWrite, statusWrites } from "./qi";
export {
  agawToLevels,
  agawToWidth,
  CAP,
  capMaxAgaw,
  capMgaw,
  capNumDomains,
  capNumFaultRegs,
  DEFAULT_CAP,
  DEFAULT_ECAP,
  ECAP,
  type Features,
  featuresOf,
  type RegField,
  regBuild,
  regGet,
} from "./regs";
export {
  IOMMU_CACHE,
  IOMMU_NOEXEC,
  IOMMU_READ,
  IOMMU_WRITE,
  type MapPlan,
  mapRange,
  type PfnRun,
  planMap,
  type SlTable,
  unmapRange,
} from "./sl-map";
export {
  DEFAULT_UNIT_CONFIG,
  type FaultRecord,
  initialVtdState,
  newUnit,
  type PageGroup,
  PRQ_DESC_SIZE,
  type S1Config,
  unitFeatures,
  type VtdDevice,
  type VtdDomain,
  type VtdState,
  type VtdUnit,
  type VtdUnitConfig,
} from "./state";
export { MAX_SL_LEVELS, mapTableBound, mapTablePages, type TableMap } from "./table-budget";
export { framesAvailable, readContextEntry } from "./tables";
export { ACCESS, type FillSink, LAST, translatePage } from "./translate";
export { type FlParams, type SlParams, WALK, walkFirstStage, walkSecondStage } from "./walk";
