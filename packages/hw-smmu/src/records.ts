/**
 * Event-queue records (32 bytes, 4 u64 words) and PRI-queue records
 * (16 bytes, 2 u64 words), with the spec's layouts.
 *
 * Sources: Arm IHI 0070 §7.3 "Event records" (C_BAD_STREAMID 0x02,
 * C_BAD_STE 0x04, F_BAD_ATS_TREQ 0x05, F_STREAM_DISABLED 0x06, C_BAD_SUBSTREAMID 0x08, C_BAD_CD
 * 0x0a, F_TRANSL_FORBIDDEN 0x07, F_TRANSLATION 0x10, F_ADDR_SIZE 0x11, F_ACCESS 0x12, F_PERMISSION
 * 0x13) and §8 "PRI queue"; bit positions as Linux arm-smmu-v3.h (EVTQ_*,
 * PRIQ_*), record filling as QEMU hw/arm/smmuv3.c smmuv3_record_event.
 * F_TLB_CONFLICT (0x20) is not modelled: the TLB resolves overlaps by
 * lookup order instead of reporting them.
 */
import { bit, bitMask, genmask, getField, putField } from "./bits";

/** Event record IDs (IHI 0070 §7.3). */
export const EVT = {
  C_BAD_STREAMID: 0x02,
  C_BAD_STE: 0x04,
  F_BAD_ATS_TREQ: 0x05,
  F_STREAM_DISABLED: 0x06,
  F_TRANSL_FORBIDDEN: 0x07,
  C_BAD_SUBSTREAMID: 0x08,
  C_BAD_CD: 0x0a,
  F_TRANSLATION: 0x10,
  F_ADDR_SIZE: 0x11,
  F_ACCESS: 0x12,
  F_PERMISSION: 0x13,
} as const;

/** A decoded event record. `ssid` present ⇔ SSV = 1. Addresses are bigint bytes. */
export interface EventRecord {
  readonly id: number;
  readonly sid: number;
  readonly ssid?: number;
  /** Translation faults only: */
  readonly stall?: boolean;
  readonly stag?: number;
  /** PnU: privileged; InD: instruction; RnW: read. */
  readonly pnu?: boolean;
  readonly ind?: boolean;
  readonly rnw?: boolean;
  /** Fault in stage 2. */
  readonly s2?: boolean;
  /** CLASS: 0 CD, 1 TT, 2 IN. */
  readonly class?: number;
  /** InputAddr (word 2). */
  readonly inputAddr?: bigint;
  /** IPA[51:12] (word 3) for stage-2 faults. */
  readonly ipa?: bigint;
}

/** Encode an event record into its 4 words (IHI 0070 §7.3: word 0 ID/SSV/SSID/SID, word 1 STAG/Stall/PnU/InD/RnW/S2/CLASS, word 2 InputAddr, word 3 IPA). */
export function encodeEvent(r: EventRecord): bigint[] {
  const w0 =
    putField(r.id, 7, 0) |
    (r.ssid === undefined ? 0n : bitMask(11) | putField(r.ssid, 31, 12)) |
    putField(r.sid, 63, 32);
  const w1 =
    putField(r.stag ?? 0, 15, 0) |
    (r.stall === true ? bitMask(31) : 0n) |
    (r.pnu === true ? bitMask(33) : 0n) |
    (r.ind === true ? bitMask(34) : 0n) |
    (r.rnw === true ? bitMask(35) : 0n) |
    (r.s2 === true ? bitMask(39) : 0n) |
    putField(r.class ?? 0, 41, 40);
  const w2 = BigInt.asUintN(64, r.inputAddr ?? 0n);
  const w3 = (r.ipa ?? 0n) & genmask(51, 12);
  return [w0, w1, w2, w3];
}

/** Decode the 4 words of an event record (the fields this model writes). */
export function decodeEvent(w: readonly bigint[]): EventRecord {
  const w0 = w[0] ?? 0n;
  const w1 = w[1] ?? 0n;
  return {
    id: getField(w0, 7, 0),
    sid: getField(w0, 63, 32),
    ...(bit(w0, 11) ? { ssid: getField(w0, 31, 12) } : {}),
    stall: bit(w1, 31),
    stag: getField(w1, 15, 0),
    pnu: bit(w1, 33),
    ind: bit(w1, 34),
    rnw: bit(w1, 35),
    s2: bit(w1, 39),
    class: getField(w1, 41, 40),
    inputAddr: w[2] ?? 0n,
    ipa: (w[3] ?? 0n) & genmask(51, 12),
  };
}

/** A PCIe page request as the PRI queue holds it. */
export interface PageRequest {
  readonly sid: number;
  /** Present ⇔ SSV (PASID prefix present). */
  readonly ssid?: number;
  readonly priv: boolean;
  readonly exec: boolean;
  readonly read: boolean;
  readonly write: boolean;
  /** Last request of the Page Request Group. */
  readonly last: boolean;
  /** Page Request Group index, 9 bits. */
  readonly grpid: number;
  /** Page address (bits [63:12]). */
  readonly addr: bigint;
}

/** Encode a PRI queue record (IHI 0070 §8.1; Linux PRIQ_0_*, PRIQ_1_*): word 0 SID/SSID/perm/Last/SSV, word 1 PRG index and address. */
export function encodePageRequest(p: PageRequest): bigint[] {
  const w0 =
    putField(p.sid, 31, 0) |
    putField(p.ssid ?? 0, 51, 32) |
    (p.priv ? bitMask(58) : 0n) |
    (p.exec ? bitMask(59) : 0n) |
    (p.read ? bitMask(60) : 0n) |
    (p.write ? bitMask(61) : 0n) |
    (p.last ? bitMask(62) : 0n) |
    (p.ssid === undefined ? 0n : bitMask(63));
  const w1 = putField(p.grpid, 8, 0) | (p.addr & genmask(63, 12));
  return [w0, w1];
}

/** Decode a PRI queue record. */
export function decodePageRequest(w: readonly bigint[]): PageRequest {
  const w0 = w[0] ?? 0n;
  const w1 = w[1] ?? 0n;
  return {
    sid: getField(w0, 31, 0),
    ...(bit(w0, 63) ? { ssid: getField(w0, 51, 32) } : {}),
    priv: bit(w0, 58),
    exec: bit(w0, 59),
    read: bit(w0, 60),
    write: bit(w0, 61),
    last: bit(w0, 62),
    grpid: getField(w1, 8, 0),
    addr: w1 & genmask(63, 12),
  };
}
