/**
 * @packageDocumentation
 * PASID allocation: the PASID space, per-process IOASID sets, quotas,
 * /dev/ioasid, SVA binding and the system PASID.
 */
export { PasidBitmap } from "./bitmap";
export type { DeviceLookup, PasidDevice } from "./device";
export { checkIoasidInvariants } from "./invariants";
export { type IoasidDispatcher, ioasidIoctl } from "./ioctl";
export { tryCharge } from "./quota";
export {
  cgroupOf,
  dmaDomainTags,
  type IoasidFile,
  type IoasidSet,
  type IoasidState,
  initialIoasidState,
  mmOf,
  type PasidSpaceConfig,
  type QuotaGroup,
  ROOT_CGROUP,
  type SvaBond,
  setPasids,
} from "./state";
export {
  createIoasid,
  IOASID_PREFIXES,
  type IoasidEmitted,
  type IoasidOptions,
  type IoasidSubsystem,
} from "./subsystem";
export { findBond } from "./sva";
export type { SvaBinding, SvaFaultPage, SvaHooks, SvaIopfGroup, SvaPageRequest } from "./sva-hooks";
