/**
 * @packageDocumentation
 * IO address spaces and the memory behind them: simulated processes and
 * RAM (`mm`), IOAS areas, iopt_pages pinning, accesses and IOVA
 * allocation (`iopt`, Linux drivers/iommu/iommufd/io_pagetable.c, pages.c,
 * ioas.c), and the selftest mock domain.
 */

export { EpochMap } from "./epoch-map";
export { checkInvariants } from "./invariants";
export {
  accessPinFrames,
  accessRead,
  decideAccessCreate,
  decideAccessDestroy,
  decideAccessPin,
  decideAccessReplaceIoas,
  decideAccessUnpin,
  decideAccessWrite,
} from "./iopt/access";
export { checkAreasAligned, computeAlignment } from "./iopt/alignment";
export { decideIoasCut } from "./iopt/cut";
export { decideAttachDomain, decideDetachDomain, domainOwner } from "./iopt/domains";
export { decideIoasCreate, decideIoasDestroy } from "./iopt/ioas";
export { allocIova, areasIn } from "./iopt/iova";
export {
  checkIova,
  decideIoasCopy,
  decideIoasMap,
  decideIoasMapFile,
  getPages,
  mappedIova,
  type PagesSlice,
  protOfFlags,
} from "./iopt/map";
export type { IoptCommand, IoptDecided, IoptEvent, IoptRoot, MockMessage } from "./iopt/messages";
export {
  accountModeFor,
  type ContextAccountMode,
  mapNewPages,
  type NewPagesSource,
} from "./iopt/new-pages";
export {
  decideAllowIovas,
  decideReserve,
  decideSetHugePages,
  decideSetRlimitMode,
  decideUnreserve,
  type IovaRanges,
  iovaRanges,
} from "./iopt/ranges";
export * from "./iopt/state";
export { decideIopt, ioptSubsystem } from "./iopt/subsystem";
export type { IoptCtx } from "./iopt/txn";
export { decideIoasUnmap, notifyAccesses, unmappedLength } from "./iopt/unmap";
export type { MmEvent, MmRoot } from "./mm/decide";
export { type FaultKind, lookupObjectPage, lookupPage, type PfnRun } from "./mm/fault";
export * from "./mm/state";
export { type MmCommand, mmSubsystem } from "./mm/subsystem";
export * from "./mm/sva";
export { readUser, userVaToPa } from "./mm/user-copy";
export { type CheckRoot, mdCheckMap, mdCheckRefs } from "./mock-domain/check";
export {
  MOCK_IO_PAGE,
  type MockPte,
  mockMapRange,
  mockUnmapRange,
  readMockPte,
} from "./mock-domain/page-table";
export {
  evolveMock,
  type MockDomain,
  type MockDomainState,
  type MockRoot,
  mockDomainDescriptor,
  mockDomainSubsystem,
} from "./mock-domain/subsystem";
export { addPins, pinCount } from "./pin-counts";
export { createIoptLog, type IoptLog, type IoptSystemState, ioptDecider, ioptSubsystems } from "./system";
