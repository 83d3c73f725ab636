/**
 * @packageDocumentation
 * An ARM SMMUv3 hardware model (Arm IHI 0070): ID registers, the stream
 * table and CD tables in simulated table memory, VMSAv8-64 stage-1, stage-2
 * and nested walks, configuration cache and TLB (stale until invalidated),
 * the command queue with the spec's encodings, the event and PRI queues —
 * plus the pure driver functions (domains, map/unmap, attach, nested) that
 * iommufd will call.
 */

export { ATC_ENTRIES, type AtcEntry, atcInvalidate, atcLookup } from "./atc";
export { type AttachOptions, attachDevice, checkAttach, detachDevice } from "./attach";
export { bytesToWords, wordsToBytes } from "./bits";
export { CD_SIZE, type Cd, decodeCd, EMPTY_CD, encodeCd, TG_SHIFT } from "./cd";
export { CERROR, type Cmd, cmd, decodeCmd, OP, PRI_RESP, type RawCmd } from "./commands";
export { type ContextConfig, contextConfigOf, type StreamConfig, streamConfigOf } from "./config";
export { DEFAULT_CACHE_SIZES, type PhysWritten, type SmmuOutEvent } from "./decide";
export { cdTableSte, LINUX_MAIR, nestedSte, s1DomainCd, s2DomainSte } from "./descriptors";
export {
  allocDomain,
  allocNestedDomain,
  freeDomain,
  mapRange,
  nextDomainId,
  planMap,
  planUnmap,
  runCommands,
  unmapRange,
} from "./domain";
export { evolveSmmu } from "./evolve";
export { applyCmd } from "./exec";
export { CMDQ_MAX_TLBI_OPS, invalidateAfterUnmap, unmapInvalidations } from "./invalidate";
export { checkInvariants } from "./invariants";
export type { PfnRun } from "./pgtable";
export { PhysReader } from "./phys";
export {
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
  leafAttrs,
  PERM_ALL,
  PERM_R_PRIV,
  PERM_R_UNPRIV,
  PERM_W_PRIV,
  PERM_W_UNPRIV,
} from "./pte";
export {
  decodeEvent,
  decodePageRequest,
  EVT,
  type EventRecord,
  encodeEvent,
  encodePageRequest,
  type PageRequest,
} from "./records";
export {
  DEFAULT_AIDR,
  DEFAULT_IIDR,
  decodeFeatures,
  defaultIdRegs,
  hwInfoBytes,
  IDR0,
  IDR1,
  IDR3_RIL,
  IDR5,
  type SmmuFeatures,
  type SmmuIdRegs,
} from "./regs";
export {
  IOMMU_RESV_SW_MSI,
  MSI_IOVA_BASE,
  MSI_IOVA_LENGTH,
  type ReservedRegion,
  reservedRegions,
} from "./resv";
export {
  type CacheSizes,
  type CdTable,
  type CmdQueue,
  cdKey,
  initialSmmuState,
  type OutQueue,
  type PriResponse,
  type SmmuDomain,
  type SmmuInstance,
  type SmmuState,
  type StreamTableRegs,
} from "./state";
export { decodeSte, EATS, EMPTY_STE, encodeSte, S1DSS, S1FMT, STE_CFG, STE_SIZE, type Ste } from "./ste";
export { smmuSubsystem } from "./subsystem";
export { framesAvailable, mapTableBound, mapTablePages, type TableMap } from "./table-budget";
export { CTXDESC_L2_ENTRIES, cdTableOfSte, STRTAB_SPLIT } from "./tables";
export { s1Tag, s2Tag, type Tlb, type TlbEntry, tlbLookup } from "./tlb";
export {
  type DmaRequest,
  dmaRead,
  MODEL_ADDRESS_LIMIT,
  type PaRun,
  type TranslateResult,
  translate,
} from "./translate";
export { type Fill, type SmmuRoot, Translator } from "./translator";
export { convertUserCmd, convertUserCmds, veventBytes } from "./viommu";
export {
  CLASS_CD,
  CLASS_IN,
  CLASS_TT,
  F_ACCESS,
  F_ADDR_SIZE,
  F_PERMISSION,
  F_TRANSLATION,
  type TtConfig,
  WalkOut,
  walk,
} from "./walk";
