/**
 * SMMU_IDR0–IDR5, SMMU_IIDR and SMMU_AIDR: the identification registers
 * software reads to learn what an SMMUv3 implements, their fields, a default
 * configuration, and the `iommu_hw_info_arm_smmuv3` block iommufd reports.
 *
 * Sources: Arm IHI 0070 (SMMUv3) §6.3.1–§6.3.6 (IDR0–IDR5), §6.3.7 (IIDR),
 * §6.3.8 (AIDR); Linux drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h (IDR0_*,
 * IDR1_*, IDR3_*, IDR5_*, IIDR_*), arm-smmu-v3-iommufd.c arm_smmu_hw_info().
 */
import { iommuHwInfoArmSmmuv3 } from "@iommu-sim/uapi";

/** Extract bits [hi:lo] of a 32-bit register value. */
export function field32(value: number, hi: number, lo: number): number {
  const width = hi - lo + 1;
  return width === 32 ? value >>> 0 : (value >>> lo) & ((1 << width) - 1);
}

/** SMMU_IDR0 fields (IHI 0070 §6.3.1; Linux IDR0_*). Single bits are masks, fields `[hi, lo]`. */
export const IDR0 = {
  S2P: 1 << 0,
  S1P: 1 << 1,
  TTF: [3, 2] as const,
  COHACC: 1 << 4,
  HTTU: [7, 6] as const,
  HYP: 1 << 9,
  ATS: 1 << 10,
  ASID16: 1 << 12,
  MSI: 1 << 13,
  SEV: 1 << 14,
  PRI: 1 << 16,
  VMID16: 1 << 18,
  CD2L: 1 << 19,
  TTENDIAN: [22, 21] as const,
  STALL_MODEL: [25, 24] as const,
  TERM_MODEL: 1 << 26,
  ST_LEVEL: [28, 27] as const,
} as const;

/** IDR0.TTF = AArch64 translation tables only. */
export const IDR0_TTF_AARCH64 = 2;
/** IDR0.TTENDIAN = little-endian translation tables only. */
export const IDR0_TTENDIAN_LE = 2;
/** IDR0.STALL_MODEL = stall not supported (terminate only). */
export const IDR0_STALL_MODEL_NONE = 1;
/** IDR0.ST_LEVEL = linear and 2-level stream tables supported. */
export const IDR0_ST_LEVEL_2LVL = 1;

/** SMMU_IDR1 fields (IHI 0070 §6.3.2; Linux IDR1_*). */
export const IDR1 = {
  SIDSIZE: [5, 0] as const,
  SSIDSIZE: [10, 6] as const,
  PRIQS: [15, 11] as const,
  EVENTQS: [20, 16] as const,
  CMDQS: [25, 21] as const,
} as const;

/** SMMU_IDR3.RIL: range invalidation (TLBI with NUM/SCALE) supported (IHI 0070 §6.3.4). */
export const IDR3_RIL = 1 << 10;
/** SMMU_IDR3.PPS: PRI overflow auto-responses always carry the request's PASID (IHI 0070 §6.3.4, §8.1). */
export const IDR3_PPS = 1 << 5;

/** SMMU_IDR5 fields (IHI 0070 §6.3.6; Linux IDR5_*). */
export const IDR5 = {
  OAS: [2, 0] as const,
  GRAN4K: 1 << 4,
  GRAN16K: 1 << 5,
  GRAN64K: 1 << 6,
  VAX: [11, 10] as const,
} as const;

/** IDR5.OAS / CD.IPS / STE.S2PS encoding → bits of physical address (IHI 0070 §6.3.6; ARM ARM TCR.IPS). */
export const OAS_BITS = [32, 36, 40, 42, 44, 48, 52] as const;

/** Decode an OAS/IPS/PS field to a width in bits (reserved encodings read as the largest, 52, as IHI 0070 §6.3.6 allows none). */
export function oasBits(encoding: number): number {
  return OAS_BITS[encoding] ?? 52;
}

/** SMMU_IIDR of an Arm CoreLink MMU-700 r0p0: ProductID 0x487, Implementer 0x43b (Arm) (Linux IIDR_PRODUCTID_ARM_MMU_700). */
export const DEFAULT_IIDR = (0x487 << 20) | 0x43b;
/** SMMU_AIDR for SMMUv3.2: ArchMajorRev 0 (= v3), ArchMinorRev 2 (IHI 0070 §6.3.8). */
export const DEFAULT_AIDR = 0x02;

/**
 * The ID registers of one SMMU, as 32-bit values.
 * `idr` = SMMU_IDR0..IDR5 (IDR2 and IDR4 are implementation-defined/zero here).
 */
export interface SmmuIdRegs {
  readonly idr: readonly [number, number, number, number, number, number];
  readonly iidr: number;
  readonly aidr: number;
}

/**
 * A full-featured SMMUv3.2: stage 1 and 2, AArch64 LE tables, coherent, ATS,
 * PRI, 16-bit ASID/VMID, 2-level CD and stream tables, MSI, no stall,
 * SIDSIZE 16, SSIDSIZE 20, queues of 2^8 entries, RIL, OAS 48 bits, all
 * three granules.
 */
export function defaultIdRegs(): SmmuIdRegs {
  const idr0 =
    IDR0.S2P |
    IDR0.S1P |
    (IDR0_TTF_AARCH64 << 2) |
    IDR0.COHACC |
    IDR0.ATS |
    IDR0.ASID16 |
    IDR0.MSI |
    IDR0.PRI |
    IDR0.VMID16 |
    IDR0.CD2L |
    (IDR0_TTENDIAN_LE << 21) |
    (IDR0_STALL_MODEL_NONE << 24) |
    (IDR0_ST_LEVEL_2LVL << 27);
  const idr1 = 16 | (20 << 6) | (8 << 11) | (8 << 16) | (8 << 21);
  const idr5 = 5 | IDR5.GRAN4K | IDR5.GRAN16K | IDR5.GRAN64K;
  return { idr: [idr0 >>> 0, idr1, 0, IDR3_RIL, 0, idr5], iidr: DEFAULT_IIDR >>> 0, aidr: DEFAULT_AIDR };
}

/** What the ID registers say, decoded once per instance (the model consults this, never raw bits). */
export interface SmmuFeatures {
  readonly s1: boolean;
  readonly s2: boolean;
  readonly ats: boolean;
  readonly pri: boolean;
  readonly asidBits: 8 | 16;
  readonly vmidBits: 8 | 16;
  readonly cd2l: boolean;
  readonly st2l: boolean;
  /** IDR1.SIDSIZE: StreamID width in bits. */
  readonly sidBits: number;
  /** IDR1.SSIDSIZE: SubstreamID width in bits (0 = no substreams). */
  readonly ssidBits: number;
  /** log2 of queue entries: IDR1.CMDQS, EVENTQS, PRIQS. */
  readonly cmdqLog2: number;
  readonly evtqLog2: number;
  readonly priqLog2: number;
  /** IDR3.RIL. */
  readonly ril: boolean;
  /** IDR3.PPS. */
  readonly pps: boolean;
  /** IDR5.OAS in bits. */
  readonly oas: number;
  readonly gran4k: boolean;
  readonly gran16k: boolean;
  readonly gran64k: boolean;
}

/** Decode IDR0/1/3/5 into `SmmuFeatures` (IHI 0070 §6.3). */
export function decodeFeatures(regs: SmmuIdRegs): SmmuFeatures {
  const [idr0, idr1, , idr3, , idr5] = regs.idr;
  return {
    s1: (idr0 & IDR0.S1P) !== 0,
    s2: (idr0 & IDR0.S2P) !== 0,
    ats: (idr0 & IDR0.ATS) !== 0,
    pri: (idr0 & IDR0.PRI) !== 0,
    asidBits: idr0 & IDR0.ASID16 ? 16 : 8,
    vmidBits: idr0 & IDR0.VMID16 ? 16 : 8,
    cd2l: (idr0 & IDR0.CD2L) !== 0,
    st2l: field32(idr0, ...IDR0.ST_LEVEL) === IDR0_ST_LEVEL_2LVL,
    sidBits: field32(idr1, ...IDR1.SIDSIZE),
    ssidBits: field32(idr1, ...IDR1.SSIDSIZE),
    cmdqLog2: field32(idr1, ...IDR1.CMDQS),
    evtqLog2: field32(idr1, ...IDR1.EVENTQS),
    priqLog2: field32(idr1, ...IDR1.PRIQS),
    ril: (idr3 & IDR3_RIL) !== 0,
    pps: (idr3 & IDR3_PPS) !== 0,
    oas: oasBits(field32(idr5, ...IDR5.OAS)),
    gran4k: (idr5 & IDR5.GRAN4K) !== 0,
    gran16k: (idr5 & IDR5.GRAN16K) !== 0,
    gran64k: (idr5 & IDR5.GRAN64K) !== 0,
  };
}

/**
 * The `struct iommu_hw_info_arm_smmuv3` bytes (40 bytes: flags, reserved,
 * idr[6], iidr, aidr) IOMMU_GET_HW_INFO returns for a device behind this
 * SMMU. Linux copies the raw registers (arm_smmu_hw_info()); so do we.
 */
export function hwInfoBytes(regs: SmmuIdRegs): Uint8Array {
  return iommuHwInfoArmSmmuv3.encode({ flags: 0, idr: [...regs.idr], iidr: regs.iidr, aidr: regs.aidr });
}
