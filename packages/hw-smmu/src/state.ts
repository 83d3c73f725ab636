/**
 * The `smmu` slice: every SMMU instance's hardware state (ID registers,
 * table memory, stream table registers, caches, queues) plus the driver-side
 * bookkeeping of domains the model's Linux-like driver functions keep.
 *
 * Bulk data (table memory) is a FrameStore; everything else is small,
 * frozen and replaced by spreads.
 */
import { FrameStore } from "@iommu-sim/eventlog";
import type { AtcEntry } from "./atc";
import type { RawCmd } from "./commands";
import type { ContextConfig, StreamConfig } from "./config";
import { decodeFeatures, type SmmuFeatures, type SmmuIdRegs } from "./regs";
import { emptyTlb, type Tlb } from "./tlb";

/** SMMU_STRTAB_BASE / SMMU_STRTAB_BASE_CFG as the driver programmed them (IHI 0070 §6.3.23–24). */
export interface StreamTableRegs {
  /** STRTAB_BASE.ADDR (PA). */
  readonly base: number;
  /** STRTAB_BASE_CFG.FMT: 0 linear, 1 2-level. */
  readonly fmt: 0 | 1;
  /** STRTAB_BASE_CFG.LOG2SIZE: log2 of the number of StreamIDs covered. */
  readonly log2size: number;
  /** STRTAB_BASE_CFG.SPLIT: StreamID bits resolved by a level-2 table (Linux STRTAB_SPLIT = 8). */
  readonly split: number;
}

/** A circular output queue (event or PRI queue): records not yet consumed by software, oldest first. */
export interface OutQueue {
  /** log2 of the queue's entry count (IDR1.EVENTQS / PRIQS). */
  readonly log2size: number;
  /** Pending records (each 4 or 2 u64 words). */
  readonly records: readonly (readonly bigint[])[];
  /** Records ever written / consumed (PROD / CONS without wrap). */
  readonly prod: number;
  readonly cons: number;
  /**
   * PROD.OVFLG: toggled when a record is lost to a full queue while no
   * overflow condition is active (IHI 0070 §7.4, §8.1); the condition is
   * active while it differs from CONS.OVACKFLG (`overflowAck`).
   */
  readonly overflow: boolean;
  /** CONS.OVACKFLG: software acknowledges an overflow by copying OVFLG here. */
  readonly overflowAck: boolean;
}

/** The command queue's consumer state (IHI 0070 §4, §7.1). */
export interface CmdQueue {
  /** Commands consumed so far. */
  readonly cons: number;
  /** CMDQ_CONS.ERR: 0 none, else CERROR_* of the command at the head (the queue is halted). */
  readonly error: number;
  /** Commands submitted but not consumed because the queue is halted; the first is the erroneous one. */
  readonly pending: readonly RawCmd[];
}

/** A response a device received to one of its page requests (CMD_PRI_RESP, or the SMMU's overflow auto-response). */
export interface PriResponse {
  readonly sid: number;
  readonly ssid?: number;
  readonly grpid: number;
  /** 0 Invalid Request, 1 Response Failure, 2 Success (Linux enum pri_resp). */
  readonly resp: number;
  /** Sent by the SMMU itself for a Last = 1 request lost to PRI queue overflow (IHI 0070 §8.1). */
  readonly auto?: boolean;
}

/** A page request group a device has outstanding (sent, not yet answered). */
export interface OutstandingPrg {
  readonly sid: number;
  readonly ssid?: number;
  readonly grpid: number;
}

/** Where a stream's CD table is, as the driver allocated it (arm_smmu_alloc_cd_tables). */
export interface CdTable {
  /** Table base (PA in table memory). */
  readonly base: number;
  /** STE.S1Fmt: 0 linear, 2 2-level with 64 KiB leaves (Linux STRTAB_STE_0_S1FMT_64K_L2). */
  readonly s1fmt: number;
  /** STE.S1CDMax. */
  readonly s1cdmax: number;
}

/** A domain the driver functions manage (Linux struct arm_smmu_domain / arm_smmu_nested_domain). */
export interface SmmuDomain {
  readonly id: number;
  /** "s1"/"s2": paging domains; "nested": a guest STE over a stage-2 parent. */
  readonly kind: "s1" | "s2" | "nested";
  /** Stage 1: its ASID; else 0. */
  readonly asid: number;
  /** Stage 2 (or nested: the parent's) VMID; stage 1: 0. */
  readonly vmid: number;
  /** Top-level table (PA in table memory); nested: 0. */
  readonly ttb: number;
  /** Input size in bits (48 here: T0SZ / S2T0SZ 16). */
  readonly iaBits: number;
  /** Nested only: the parent stage-2 domain and the guest STE words 0–1 (validated). */
  readonly parent?: number;
  readonly vste?: readonly [bigint, bigint];
  /** Nested only: EATS = 1 in the guest STE (Linux nested_domain->enable_ats). */
  readonly enableAts?: boolean;
  /** Streams attached: sid, and ssid for PASID attachments. */
  readonly attached: readonly { readonly sid: number; readonly ssid?: number }[];
}

/** Capacity of the caches, in entries. */
export interface CacheSizes {
  readonly ste: number;
  readonly cd: number;
  readonly tlb: number;
}

/** One SMMU. */
export interface SmmuInstance {
  readonly id: number;
  readonly regs: SmmuIdRegs;
  readonly features: SmmuFeatures;
  /** Table-memory region [tableBase, tableEnd) (PA). */
  readonly tableBase: number;
  readonly tableEnd: number;
  /** Table memory: stream table, CD tables, page tables of host-owned domains. */
  readonly mem: FrameStore;
  /** Next never-allocated byte of table memory (the bump allocator's tail). */
  readonly nextFree: number;
  /**
   * Frame numbers of single 4 KiB frames given back — IO page tables an
   * unmap covered whole, a freed domain's tables — reused first (LIFO) by
   * single-frame allocations. Their contents were dropped (they read as zeros).
   */
  readonly freeFrames: readonly number[];
  readonly strtab: StreamTableRegs;
  /** Driver-side: CD tables by StreamID. */
  readonly cdTables: ReadonlyMap<number, CdTable>;
  /** Configuration cache: STEs by StreamID, CDs by `sid·2^20 + ssid`. FIFO beyond capacity. */
  readonly steCache: ReadonlyMap<number, StreamConfig>;
  readonly cdCache: ReadonlyMap<number, ContextConfig>;
  readonly tlb: Tlb;
  /** The devices' ATS caches, by StreamID (see atc.ts). */
  readonly atc: ReadonlyMap<number, readonly AtcEntry[]>;
  readonly cacheSizes: CacheSizes;
  readonly cmdq: CmdQueue;
  readonly evtq: OutQueue;
  readonly priq: OutQueue;
  /** PRI: groups each device has outstanding, and the responses devices received. */
  readonly prgs: readonly OutstandingPrg[];
  readonly priResponses: readonly PriResponse[];
  /** Next PRG index a device uses (9 bits, wraps). */
  readonly nextPrg: number;
  /** Driver-side domains and allocators (ASID and VMID from 1; 0 is Linux's reserved one). */
  readonly domains: ReadonlyMap<number, SmmuDomain>;
  readonly nextDomain: number;
  readonly nextAsid: number;
  readonly nextVmid: number;
}

/** The `smmu` root slice. */
export interface SmmuState {
  readonly instances: ReadonlyMap<number, SmmuInstance>;
}

/** The slice before any `smmu.instance.add`. */
export const initialSmmuState: SmmuState = Object.freeze({ instances: new Map() });

/** The key of a CD in the CD cache. */
export function cdKey(sid: number, ssid: number): number {
  return sid * 2 ** 20 + ssid;
}

/** A fresh instance with empty caches and queues. */
export function newInstance(
  id: number,
  regs: SmmuIdRegs,
  tableBase: number,
  tableEnd: number,
  cacheSizes: CacheSizes,
): SmmuInstance {
  const features = decodeFeatures(regs);
  return {
    id,
    regs,
    features,
    tableBase,
    tableEnd,
    mem: FrameStore.empty(),
    nextFree: tableBase,
    freeFrames: [],
    strtab: { base: 0, fmt: 0, log2size: 0, split: 0 },
    cdTables: new Map(),
    steCache: new Map(),
    cdCache: new Map(),
    tlb: emptyTlb(cacheSizes.tlb),
    atc: new Map(),
    cacheSizes,
    cmdq: { cons: 0, error: 0, pending: [] },
    evtq: { log2size: features.evtqLog2, records: [], prod: 0, cons: 0, overflow: false, overflowAck: false },
    priq: { log2size: features.priqLog2, records: [], prod: 0, cons: 0, overflow: false, overflowAck: false },
    prgs: [],
    priResponses: [],
    nextPrg: 0,
    domains: new Map(),
    nextDomain: 1,
    nextAsid: 1,
    nextVmid: 1,
  };
}

/** Replace one instance in the slice. */
export function withInstance(state: SmmuState, inst: SmmuInstance): SmmuState {
  const instances = new Map(state.instances);
  instances.set(inst.id, inst);
  return { instances };
}
