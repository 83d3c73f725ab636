/**
 * The state of the `vtd` subsystem: remapping units, each with its
 * configuration (CAP/ECAP, table-memory region), the table memory its
 * driver-owned structures live in (root/context/PASID tables, second-stage
 * tables, the page request queue), a frame allocator for it, the domains
 * the driver created, the caches, the fault recording registers and the
 * page request queue registers.
 *
 * Physical addresses are JS numbers of bytes (exact below 2^53); frames are
 * 4 KiB. Source for the register state: VT-d spec rev 4.1 §10.4
 * (FSTS_REG, FRCD_REG, PQH/PQT/PQA_REG).
 */
import { FrameStore } from "@iommu-sim/eventlog";
import { CacheMap } from "./cache-map";
import type { ContextEntry, PasidEntry } from "./entries";
import { Iotlb } from "./iotlb";
import { DEFAULT_CAP, DEFAULT_ECAP, type Features, featuresOf } from "./regs";

/** How one unit is built (the `vtd.unit.add` command's data, decoded). */
export interface VtdUnitConfig {
  /** CAP_REG value. */
  readonly cap: bigint;
  /** ECAP_REG value. */
  readonly ecap: bigint;
  /** First byte of the unit's table memory (PA, 4 KiB aligned). */
  readonly tableBase: number;
  /** Size of the table memory in 4 KiB frames. */
  readonly tableFrames: number;
  /** IOTLB capacity in pages. */
  readonly iotlbSize: number;
  /** Context-cache capacity in entries. */
  readonly contextCacheSize: number;
  /** PASID-cache capacity in entries. */
  readonly pasidCacheSize: number;
  /** Page request queue size in 4 KiB frames (PQA_REG.PQS = log2 of it); 128 descriptors per frame. */
  readonly prqFrames: number;
}

/** Defaults: 1 GiB of table memory at 0x10_0000_0000, 4096-page IOTLB, 256 context and 1024 PASID cache entries, 16-frame PRQ (Linux PRQ_ORDER 4). */
export const DEFAULT_UNIT_CONFIG: VtdUnitConfig = Object.freeze({
  cap: DEFAULT_CAP,
  ecap: DEFAULT_ECAP,
  tableBase: 0x10_0000_0000,
  tableFrames: 262144,
  iotlbSize: 4096,
  contextCacheSize: 256,
  pasidCacheSize: 1024,
  prqFrames: 16,
});

/** First-stage configuration of a nested domain (from `iommu_hwpt_vtd_s1`). */
export interface S1Config {
  /** `IOMMU_VTD_S1_*` flags. */
  readonly flags: number;
  /** Guest first-stage table pointer (GPA, bytes). */
  readonly pgtblAddr: number;
  /** Guest address width: 48 (4-level) or 57 (5-level). */
  readonly addrWidth: number;
}

/** A domain the driver created on this unit; identified by its domain id. */
export interface VtdDomain {
  /** Domain id (DID, 16 bits), also the handle. */
  readonly did: number;
  /**
   * `paging`: second-stage tables in table memory; `nested`: guest first stage
   * over a parent; `identity`: pass-through; `sva`: a process's first-stage
   * page table in RAM (first-stage only).
   */
  readonly kind: "paging" | "nested" | "identity" | "sva";
  /** Paging: second-stage root table PA. Nested: 0. */
  readonly pgd: number;
  /** Paging: AGAW code (2 = 4-level, 3 = 5-level). */
  readonly agaw: number;
  /** Allocated with IOMMU_HWPT_ALLOC_NEST_PARENT. */
  readonly nestParent: boolean;
  /** Enforce cache coherency: PGSNP set in PASID entries (needs ECAP.SC). */
  readonly forceSnooping: boolean;
  /** Allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING (needs ECAP.SSADS): may turn dirty tracking on. */
  readonly dirtyTracking: boolean;
  /** Dirty tracking is on: PASID entries using the domain (or a nested child) have SSADE. */
  readonly dirtyEnabled: boolean;
  /** Nested: the parent paging domain's DID. */
  readonly parent?: number;
  /** Nested: first-stage configuration. SVA: `pgtblAddr` = the process's root table PA, flags 0. */
  readonly s1?: S1Config;
}

/** A device's capabilities and attachments, as the driver set them up. */
export interface VtdDevice {
  /** Requester id. */
  readonly rid: number;
  /** PRI capable: the context entry has PRE set. */
  readonly pri: boolean;
  /** ATS capable: the context entry has DTE set. */
  readonly ats: boolean;
  /** PASID table: the PASID directory's PA. */
  readonly pasidDir: number;
  /** Attached domains by PASID (0 = RID_PASID, the requests-without-PASID path). */
  readonly attached: ReadonlyMap<number, number>;
}

/** One primary fault record (FRCD_REG, 128 bits), decoded. VT-d §11.4.14. */
export interface FaultRecord {
  /** FR: fault reason (see `FR`). */
  readonly reason: number;
  /** SID: requester id. */
  readonly rid: number;
  /** PV when PP = 1. */
  readonly pasid?: number;
  /** FI: faulting page address (bytes, 4 KiB aligned). */
  readonly addr: bigint;
  /** T1 = 0: a write request. */
  readonly write: boolean;
  /** PRIV: supervisor request. */
  readonly privileged: boolean;
  /** EXE: execute request. */
  readonly exec: boolean;
}

/** An outstanding page request group of a device (awaiting a page group response). */
export interface PageGroup {
  readonly rid: number;
  readonly pasid?: number;
  /** Page request group index (9 bits). */
  readonly index: number;
  /** Response code once answered (0 success, 1 invalid request, 0xF failure). */
  readonly response?: number;
}

/** One remapping unit. */
export interface VtdUnit {
  readonly id: number;
  readonly config: VtdUnitConfig;
  /** RTADDR_REG: root table PA. */
  readonly rootTable: number;
  /** PQA_REG: page request queue PA. */
  readonly prqBase: number;
  /** Table memory contents (driver-owned structures). */
  readonly tables: FrameStore;
  /** Next never-allocated frame number of the table memory (absolute frame number). */
  readonly nextFrame: number;
  /** Freed single frames, reused first (LIFO). */
  readonly freeFrames: readonly number[];
  /** Next domain id to try (Linux starts at IDA_START_DID = 2). */
  readonly nextDid: number;
  readonly domains: ReadonlyMap<number, VtdDomain>;
  readonly devices: ReadonlyMap<number, VtdDevice>;
  readonly contextCache: CacheMap<ContextEntry>;
  /** Keyed by rid·2^20 + pasid. */
  readonly pasidCache: CacheMap<PasidEntry>;
  readonly iotlb: Iotlb;
  /** Fault recording registers (null: F clear). */
  readonly faults: readonly (FaultRecord | null)[];
  /** FSTS.FRI: the next fault recording index. */
  readonly fri: number;
  /** FSTS.PFO: a fault was lost because the next register was full. */
  readonly pfo: boolean;
  /** PQH_REG: byte offset of the next descriptor software reads. */
  readonly prqHead: number;
  /** PQT_REG: byte offset where hardware writes the next descriptor. */
  readonly prqTail: number;
  /** PRS_REG.PRO: a page request was dropped because the queue was full. */
  readonly pro: boolean;
  /** Outstanding page groups, by rid·512 + index. */
  readonly pageGroups: ReadonlyMap<number, PageGroup>;
  /** Invalidation-wait descriptors completed with IF = 1 (ICS_REG.IWC events). */
  readonly iwcCount: number;
}

/** The `vtd` slice: units by id. */
export interface VtdState {
  readonly units: ReadonlyMap<number, VtdUnit>;
}

/** The empty slice. */
export const initialVtdState: VtdState = Object.freeze({ units: new Map() });

/** Bytes per page request descriptor (VT-d §7.5.1: 256 bits). */
export const PRQ_DESC_SIZE = 32;

/** A fresh unit: table memory holds a zeroed root table at its first frame, then the PRQ. */
export function newUnit(id: number, config: VtdUnitConfig, nfr: number): VtdUnit {
  const first = config.tableBase / 4096;
  return {
    id,
    config,
    rootTable: config.tableBase,
    prqBase: config.tableBase + 4096,
    tables: FrameStore.empty(),
    nextFrame: first + 1 + config.prqFrames,
    freeFrames: [],
    nextDid: 2,
    domains: new Map(),
    devices: new Map(),
    contextCache: CacheMap.empty(config.contextCacheSize),
    pasidCache: CacheMap.empty(config.pasidCacheSize),
    iotlb: Iotlb.empty(config.iotlbSize),
    faults: new Array<FaultRecord | null>(nfr).fill(null),
    fri: 0,
    pfo: false,
    prqHead: 0,
    prqTail: 0,
    pro: false,
    pageGroups: new Map(),
    iwcCount: 0,
  };
}

/** A copy of `state` with unit `unit` replaced. */
export function withUnit(state: VtdState, unit: VtdUnit): VtdState {
  const units = new Map(state.units);
  units.set(unit.id, unit);
  return { units };
}

const features = new WeakMap<VtdUnitConfig, Features>();

/** The decoded CAP/ECAP features of a unit configuration (memoised per config object). */
export function unitFeatures(config: VtdUnitConfig): Features {
  let fx = features.get(config);
  if (fx === undefined) {
    fx = featuresOf(config.cap, config.ecap);
    features.set(config, fx);
  }
  return fx;
}

// The persistent Map updates this package's modules import from here.
export { mapDelete, mapSet } from "@iommu-sim/eventlog";
