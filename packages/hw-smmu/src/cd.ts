/**
 * The Context Descriptor (CD): 64 bytes (8 little-endian u64 words) per
 * SubstreamID, holding the stage-1 translation regime (TCR-like fields, TTB0,
 * ASID, MAIR).
 *
 * Source: Arm IHI 0070 §5.4 "Context Descriptor"; bit positions as Linux
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h (CTXDESC_CD_*).
 */
import { bit, bitMask, genmask, getAddr, getField, putField } from "./bits";

/** CD size in bytes (CTXDESC_CD_DWORDS × 8). */
export const CD_SIZE = 64;

/** CD.TG0 / STE.S2TG granule encodings → log2 of the granule in bytes (TCR_EL1.TG0 encoding: 0 = 4 KiB, 1 = 64 KiB, 2 = 16 KiB). */
export const TG_SHIFT: Readonly<Record<number, number>> = { 0: 12, 1: 16, 2: 14 };

/** A decoded CD. Addresses are byte addresses (numbers, < 2^52). */
export interface Cd {
  /** CD.T0SZ, word 0 bits [5:0]: input size = 64 − T0SZ bits. */
  readonly t0sz: number;
  /** CD.TG0, word 0 bits [7:6] (see `TG_SHIFT`). */
  readonly tg0: number;
  /** CD.IR0/OR0/SH0, word 0 bits [9:8], [11:10], [13:12]. */
  readonly ir0: number;
  readonly or0: number;
  readonly sh0: number;
  /** CD.EPD0 (bit 14): TTB0 walks disabled → translation fault. */
  readonly epd0: boolean;
  /** CD.ENDI (bit 15): big-endian tables (not supported by this model: IDR0.TTENDIAN = LE). */
  readonly endi: boolean;
  /** CD.T1SZ (bits [21:16]), TG1 ([23:22]). */
  readonly t1sz: number;
  readonly tg1: number;
  /** CD.EPD1 (bit 30): TTB1 walks disabled. */
  readonly epd1: boolean;
  /** CD.V (bit 31). */
  readonly v: boolean;
  /** CD.IPS, word 0 bits [34:32]: intermediate/output size (OAS encoding). */
  readonly ips: number;
  /** CD.AFFD (bit 35): access-flag faults disabled. */
  readonly affd: boolean;
  /** CD.WXN (36), UWXN (37). */
  readonly wxn: boolean;
  readonly uwxn: boolean;
  /** CD.TBI, bits [39:38]: top-byte ignore for TTB0/TTB1. */
  readonly tbi: number;
  /** CD.PAN (40): privileged access never. */
  readonly pan: boolean;
  /** CD.AA64 (41): AArch64 tables. */
  readonly aa64: boolean;
  /** CD.HD (42), HA (43): hardware dirty/access-flag update. */
  readonly hd: boolean;
  readonly ha: boolean;
  /** CD.S (44): stall; CD.R (45): record faults; CD.A (46): abort (terminate with abort); CD.ASET (47). */
  readonly s: boolean;
  readonly r: boolean;
  readonly a: boolean;
  readonly aset: boolean;
  /** CD.ASID, word 0 bits [63:48]. */
  readonly asid: number;
  /** CD.TTB0, word 1 bits [51:4]. */
  readonly ttb0: number;
  /** CD.TTB1, word 2 bits [51:4]. */
  readonly ttb1: number;
  /** CD.MAIR0/MAIR1, word 3. */
  readonly mair: bigint;
}

/** An all-zero (invalid) CD. */
export const EMPTY_CD: Cd = Object.freeze({
  t0sz: 0,
  tg0: 0,
  ir0: 0,
  or0: 0,
  sh0: 0,
  epd0: false,
  endi: false,
  t1sz: 0,
  tg1: 0,
  epd1: false,
  v: false,
  ips: 0,
  affd: false,
  wxn: false,
  uwxn: false,
  tbi: 0,
  pan: false,
  aa64: false,
  hd: false,
  ha: false,
  s: false,
  r: false,
  a: false,
  aset: false,
  asid: 0,
  ttb0: 0,
  ttb1: 0,
  mair: 0n,
});

const flag = (b: boolean, n: number): bigint => (b ? bitMask(n) : 0n);

/** Encode a CD into its 8 words (words 4–7 zero). */
export function encodeCd(c: Partial<Cd>): bigint[] {
  const x = { ...EMPTY_CD, ...c };
  const w0 =
    putField(x.t0sz, 5, 0) |
    putField(x.tg0, 7, 6) |
    putField(x.ir0, 9, 8) |
    putField(x.or0, 11, 10) |
    putField(x.sh0, 13, 12) |
    flag(x.epd0, 14) |
    flag(x.endi, 15) |
    putField(x.t1sz, 21, 16) |
    putField(x.tg1, 23, 22) |
    flag(x.epd1, 30) |
    flag(x.v, 31) |
    putField(x.ips, 34, 32) |
    flag(x.affd, 35) |
    flag(x.wxn, 36) |
    flag(x.uwxn, 37) |
    putField(x.tbi, 39, 38) |
    flag(x.pan, 40) |
    flag(x.aa64, 41) |
    flag(x.hd, 42) |
    flag(x.ha, 43) |
    flag(x.s, 44) |
    flag(x.r, 45) |
    flag(x.a, 46) |
    flag(x.aset, 47) |
    putField(x.asid, 63, 48);
  return [
    w0,
    BigInt(x.ttb0) & genmask(51, 4),
    BigInt(x.ttb1) & genmask(51, 4),
    BigInt.asUintN(64, x.mair),
    0n,
    0n,
    0n,
    0n,
  ];
}

/** Decode the 8 words of a CD (missing words read as zero). */
export function decodeCd(words: readonly bigint[]): Cd {
  const w0 = words[0] ?? 0n;
  return {
    t0sz: getField(w0, 5, 0),
    tg0: getField(w0, 7, 6),
    ir0: getField(w0, 9, 8),
    or0: getField(w0, 11, 10),
    sh0: getField(w0, 13, 12),
    epd0: bit(w0, 14),
    endi: bit(w0, 15),
    t1sz: getField(w0, 21, 16),
    tg1: getField(w0, 23, 22),
    epd1: bit(w0, 30),
    v: bit(w0, 31),
    ips: getField(w0, 34, 32),
    affd: bit(w0, 35),
    wxn: bit(w0, 36),
    uwxn: bit(w0, 37),
    tbi: getField(w0, 39, 38),
    pan: bit(w0, 40),
    aa64: bit(w0, 41),
    hd: bit(w0, 42),
    ha: bit(w0, 43),
    s: bit(w0, 44),
    r: bit(w0, 45),
    a: bit(w0, 46),
    aset: bit(w0, 47),
    asid: getField(w0, 63, 48),
    ttb0: getAddr(words[1] ?? 0n, 51, 4),
    ttb1: getAddr(words[2] ?? 0n, 51, 4),
    mair: words[3] ?? 0n,
  };
}

/** CTXDESC_L1_DESC_V: valid bit of a level-1 CD table descriptor. */
export const CD_L1_V = 1n;
/** CTXDESC_L1_DESC_L2PTR_MASK: bits [51:12] of a level-1 CD descriptor. */
export const CD_L1_L2PTR = genmask(51, 12);
/** STRTAB_L1_DESC_SPAN (bits [4:0]) and L2Ptr (bits [51:6]) of a level-1 stream-table descriptor. */
export const ST_L1_SPAN = genmask(4, 0);
export const ST_L1_L2PTR = genmask(51, 6);
