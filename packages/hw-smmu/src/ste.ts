/**
 * The Stream Table Entry (STE): 64 bytes (8 little-endian u64 words) per
 * StreamID, selecting abort, bypass, stage 1, stage 2 or nested translation.
 *
 * Source: Arm IHI 0070 §5.2 "Stream Table Entry"; bit positions as Linux
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h (STRTAB_STE_*). Only the fields
 * this model reads or Linux writes are named; the rest must be zero.
 */
import { bit, bitMask, genmask, getAddr, getField, putField } from "./bits";

/** STE size in bytes (STRTAB_STE_DWORDS × 8). */
export const STE_SIZE = 64;

/** STE.Config values (STRTAB_STE_0_CFG_*; IHI 0070 §5.2 table "STE.Config"). */
export const STE_CFG = {
  ABORT: 0b000,
  BYPASS: 0b100,
  S1_TRANS: 0b101,
  S2_TRANS: 0b110,
  NESTED: 0b111,
} as const;

/** STE.S1Fmt (IHI 0070 §5.2): linear CD table, or 2-level with 4 KiB (64 CDs) / 64 KiB (1024 CDs) leaf tables. */
export const S1FMT = { LINEAR: 0, L2_4K: 1, L2_64K: 2 } as const;
/** STE.S1DSS: what a transaction without SubstreamID gets when S1CDMax > 0. */
export const S1DSS = { TERMINATE: 0, BYPASS: 1, SSID0: 2 } as const;
/** STE.EATS: ATS translation requests abort / are translated / split-stage (STRTAB_STE_1_EATS_*). */
export const EATS = { ABT: 0, TRANS: 1, S1CHK: 2 } as const;

/** A decoded STE. Addresses are byte addresses (numbers, < 2^52). */
export interface Ste {
  /** STE.V, word 0 bit 0. */
  readonly v: boolean;
  /** STE.Config, word 0 bits [3:1] (see `STE_CFG`). */
  readonly config: number;
  /** STE.S1Fmt, word 0 bits [5:4]. */
  readonly s1fmt: number;
  /** STE.S1ContextPtr, word 0 bits [51:6]: CD table base (PA, or IPA when stage 2 is on). */
  readonly s1ContextPtr: number;
  /** STE.S1CDMax, word 0 bits [63:59]: log2 of the number of CDs (0 = one CD, no substreams). */
  readonly s1cdmax: number;
  /** STE.S1DSS, word 1 bits [1:0]. */
  readonly s1dss: number;
  /** STE.S1CIR/S1COR/S1CSH, word 1 bits [3:2], [5:4], [7:6]: CD-table fetch attributes. */
  readonly s1cir: number;
  readonly s1cor: number;
  readonly s1csh: number;
  /** STE.PPAR, word 1 bit 18 (STE bit 82): PRI overflow auto-responses carry the PASID. */
  readonly ppar: boolean;
  /** STE.MEV, word 1 bit 19: merge events. */
  readonly mev: boolean;
  /** STE.S1STALLD, word 1 bit 27: stall disable. */
  readonly s1stalld: boolean;
  /** STE.EATS, word 1 bits [29:28]. */
  readonly eats: number;
  /** STE.STRW, word 1 bits [31:30] (0 = NS-EL1). */
  readonly strw: number;
  /** STE.SHCFG, word 1 bits [45:44]. */
  readonly shcfg: number;
  /** STE.S2VMID, word 2 bits [15:0]. */
  readonly s2vmid: number;
  /** STE.S2T0SZ, word 2 bits [37:32]: stage-2 input size = 64 − S2T0SZ bits. */
  readonly s2t0sz: number;
  /** STE.S2SL0, word 2 bits [39:38]: stage-2 starting level (granule-dependent encoding). */
  readonly s2sl0: number;
  /** STE.S2IR0/S2OR0/S2SH0, word 2 bits [41:40], [43:42], [45:44]. */
  readonly s2ir0: number;
  readonly s2or0: number;
  readonly s2sh0: number;
  /** STE.S2TG, word 2 bits [47:46]: 0 = 4 KiB, 1 = 64 KiB, 2 = 16 KiB. */
  readonly s2tg: number;
  /** STE.S2PS, word 2 bits [50:48]: stage-2 output size (OAS encoding). */
  readonly s2ps: number;
  /** STE.S2AA64 (bit 51), S2ENDI (52), S2AFFD (53), S2PTW (54), S2S (57), S2R (58) of word 2. */
  readonly s2aa64: boolean;
  readonly s2endi: boolean;
  readonly s2affd: boolean;
  readonly s2ptw: boolean;
  readonly s2s: boolean;
  readonly s2r: boolean;
  /** STE.S2TTB, word 3 bits [51:4]: stage-2 table base (PA). */
  readonly s2ttb: number;
}

/** An all-zero (invalid) STE, as `Ste` fields. */
export const EMPTY_STE: Ste = Object.freeze({
  v: false,
  config: 0,
  s1fmt: 0,
  s1ContextPtr: 0,
  s1cdmax: 0,
  s1dss: 0,
  s1cir: 0,
  s1cor: 0,
  s1csh: 0,
  ppar: false,
  mev: false,
  s1stalld: false,
  eats: 0,
  strw: 0,
  shcfg: 0,
  s2vmid: 0,
  s2t0sz: 0,
  s2sl0: 0,
  s2ir0: 0,
  s2or0: 0,
  s2sh0: 0,
  s2tg: 0,
  s2ps: 0,
  s2aa64: false,
  s2endi: false,
  s2affd: false,
  s2ptw: false,
  s2s: false,
  s2r: false,
  s2ttb: 0,
});

const flag = (b: boolean, n: number): bigint => (b ? bitMask(n) : 0n);

/** Encode an STE into its 8 words (words 4–7 zero). */
export function encodeSte(s: Partial<Ste>): bigint[] {
  const x = { ...EMPTY_STE, ...s };
  const w0 =
    flag(x.v, 0) |
    putField(x.config, 3, 1) |
    putField(x.s1fmt, 5, 4) |
    (BigInt(x.s1ContextPtr) & genmask(51, 6)) |
    putField(x.s1cdmax, 63, 59);
  const w1 =
    putField(x.s1dss, 1, 0) |
    putField(x.s1cir, 3, 2) |
    putField(x.s1cor, 5, 4) |
    putField(x.s1csh, 7, 6) |
    flag(x.ppar, 18) |
    flag(x.mev, 19) |
    flag(x.s1stalld, 27) |
    putField(x.eats, 29, 28) |
    putField(x.strw, 31, 30) |
    putField(x.shcfg, 45, 44);
  const w2 =
    putField(x.s2vmid, 15, 0) |
    putField(x.s2t0sz, 37, 32) |
    putField(x.s2sl0, 39, 38) |
    putField(x.s2ir0, 41, 40) |
    putField(x.s2or0, 43, 42) |
    putField(x.s2sh0, 45, 44) |
    putField(x.s2tg, 47, 46) |
    putField(x.s2ps, 50, 48) |
    flag(x.s2aa64, 51) |
    flag(x.s2endi, 52) |
    flag(x.s2affd, 53) |
    flag(x.s2ptw, 54) |
    flag(x.s2s, 57) |
    flag(x.s2r, 58);
  const w3 = BigInt(x.s2ttb) & genmask(51, 4);
  return [w0, w1, w2, w3, 0n, 0n, 0n, 0n];
}

/** Decode the 8 words of an STE (missing words read as zero). */
export function decodeSte(words: readonly bigint[]): Ste {
  const w0 = words[0] ?? 0n;
  const w1 = words[1] ?? 0n;
  const w2 = words[2] ?? 0n;
  const w3 = words[3] ?? 0n;
  return {
    v: bit(w0, 0),
    config: getField(w0, 3, 1),
    s1fmt: getField(w0, 5, 4),
    s1ContextPtr: getAddr(w0, 51, 6),
    s1cdmax: getField(w0, 63, 59),
    s1dss: getField(w1, 1, 0),
    s1cir: getField(w1, 3, 2),
    s1cor: getField(w1, 5, 4),
    s1csh: getField(w1, 7, 6),
    ppar: bit(w1, 18),
    mev: bit(w1, 19),
    s1stalld: bit(w1, 27),
    eats: getField(w1, 29, 28),
    strw: getField(w1, 31, 30),
    shcfg: getField(w1, 45, 44),
    s2vmid: getField(w2, 15, 0),
    s2t0sz: getField(w2, 37, 32),
    s2sl0: getField(w2, 39, 38),
    s2ir0: getField(w2, 41, 40),
    s2or0: getField(w2, 43, 42),
    s2sh0: getField(w2, 45, 44),
    s2tg: getField(w2, 47, 46),
    s2ps: getField(w2, 50, 48),
    s2aa64: bit(w2, 51),
    s2endi: bit(w2, 52),
    s2affd: bit(w2, 53),
    s2ptw: bit(w2, 54),
    s2s: bit(w2, 57),
    s2r: bit(w2, 58),
    s2ttb: getAddr(w3, 51, 4),
  };
}

/** Whether STE.Config enables stage 1 (0b101 or 0b111). */
export function steS1Enabled(config: number): boolean {
  return config === STE_CFG.S1_TRANS || config === STE_CFG.NESTED;
}

/** Whether STE.Config enables stage 2 (0b110 or 0b111). */
export function steS2Enabled(config: number): boolean {
  return config === STE_CFG.S2_TRANS || config === STE_CFG.NESTED;
}

/**
 * The STE bits a user may set through IOMMU_HWPT_DATA_ARM_SMMUV3 (Linux
 * STRTAB_STE_0_NESTING_ALLOWED / STRTAB_STE_1_NESTING_ALLOWED): V, Config,
 * S1Fmt, S1ContextPtr, S1CDMax in word 0; S1DSS, S1CIR, S1COR, S1CSH,
 * S1STALLD, EATS in word 1.
 */
export const STE0_NESTING_ALLOWED =
  bitMask(0) | genmask(3, 1) | genmask(5, 4) | genmask(51, 6) | genmask(63, 59);
export const STE1_NESTING_ALLOWED =
  genmask(1, 0) | genmask(3, 2) | genmask(5, 4) | genmask(7, 6) | bitMask(27) | genmask(29, 28);

/** STRTAB_STE_1_MEV: the host sets it on nested STEs (merge events, DoS mitigation). */
export const STE1_MEV = bitMask(19);
