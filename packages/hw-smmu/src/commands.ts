/**
 * Command-queue commands: 16 bytes (2 u64 words) each, with the spec's
 * opcodes and field positions — builders (what a driver writes) and the
 * decoder the SMMU applies, which rejects what the hardware rejects with
 * CERROR_ILL.
 *
 * Sources: Arm IHI 0070 §4 "Commands" (§4.1 opcodes and CERROR_ILL, §4.2
 * prefetch, §4.3 CFGI_*, §4.4 TLBI_*, §4.5 ATC_INV, §4.6 PRI_RESP, §4.7
 * RESUME, §4.7.3 SYNC); Linux arm-smmu-v3.h (CMDQ_*), arm-smmu-v3.c
 * arm_smmu_cmdq_build_cmd(). QEMU hw/arm/smmuv3.c smmuv3_cmdq_consume
 * handles the same set.
 *
 * Modelled CERROR_ILL causes: an opcode not in the table below; EL2/EL3
 * TLBIs (this SMMU has no IDR0.HYP, no secure side); stage-1 TLBIs without
 * IDR0.S1P, stage-2 ones without IDR0.S2P; reserved encodings (SYNC CS = 3,
 * PRI_RESP Resp = 3, RESUME Action = 3); SSV = 1 on an SMMU without
 * substreams; a TLBI range (TG ≠ 0) without IDR3.RIL or with an
 * unsupported granule; ATC_INV Size > 52.
 */
import { bit, bitMask, genmask, getField, putField } from "./bits";
import type { SmmuFeatures } from "./regs";

/** Command opcodes (IHI 0070 §4.1; Linux CMDQ_OP_*). */
export const OP = {
  PREFETCH_CONFIG: 0x01,
  PREFETCH_ADDR: 0x02,
  CFGI_STE: 0x03,
  CFGI_STE_RANGE: 0x04,
  CFGI_CD: 0x05,
  CFGI_CD_ALL: 0x06,
  TLBI_NH_ALL: 0x10,
  TLBI_NH_ASID: 0x11,
  TLBI_NH_VA: 0x12,
  TLBI_NH_VAA: 0x13,
  TLBI_S12_VMALL: 0x28,
  TLBI_S2_IPA: 0x2a,
  TLBI_NSNH_ALL: 0x30,
  ATC_INV: 0x40,
  PRI_RESP: 0x41,
  RESUME: 0x44,
  SYNC: 0x46,
} as const;

/** CMDQ_CONS.ERR codes (IHI 0070 §7.1; Linux CMDQ_ERR_CERROR_*). */
export const CERROR = { NONE: 0, ILL: 1, ABT: 2, ATC_INV_SYNC: 3 } as const;

/** PRI_RESP Resp (Linux enum pri_resp): Invalid Request, Response Failure, Success. */
export const PRI_RESP = { DENY: 0, FAIL: 1, SUCC: 2 } as const;

/** A raw 128-bit command as two little-endian u64 words. */
export type RawCmd = readonly [bigint, bigint];

/** A decoded command. Addresses are bigint bytes; `range` is the byte length a TLBI covers (undefined = the leaf at `addr`). */
export type Cmd =
  | { readonly op: "prefetch" }
  | { readonly op: "cfgi_ste"; readonly sid: number; readonly leaf: boolean }
  | { readonly op: "cfgi_ste_range"; readonly sid: number; readonly range: number }
  | { readonly op: "cfgi_cd"; readonly sid: number; readonly ssid: number; readonly leaf: boolean }
  | { readonly op: "cfgi_cd_all"; readonly sid: number }
  | { readonly op: "tlbi_nh_all"; readonly vmid: number }
  | { readonly op: "tlbi_nh_asid"; readonly vmid: number; readonly asid: number }
  | {
      readonly op: "tlbi_nh_va" | "tlbi_nh_vaa" | "tlbi_s2_ipa";
      readonly vmid: number;
      readonly asid: number;
      readonly addr: bigint;
      readonly range: bigint | undefined;
      readonly leaf: boolean;
    }
  | { readonly op: "tlbi_s12_vmall"; readonly vmid: number }
  | { readonly op: "tlbi_nsnh_all" }
  | {
      readonly op: "atc_inv";
      readonly sid: number;
      readonly ssid: number | undefined;
      readonly global: boolean;
      readonly addr: bigint;
      readonly size: number;
    }
  | {
      readonly op: "pri_resp";
      readonly sid: number;
      readonly ssid: number | undefined;
      readonly grpid: number;
      readonly resp: number;
    }
  | { readonly op: "resume"; readonly sid: number; readonly stag: number; readonly action: number }
  | { readonly op: "sync"; readonly cs: number; readonly msiData: number; readonly msiAddr: bigint };

const op = (o: number): bigint => BigInt(o);
const ssv = (ssid: number | undefined): bigint =>
  ssid === undefined ? 0n : bitMask(11) | putField(ssid, 31, 12);

/** Command builders, as Linux arm_smmu_cmdq_build_cmd() encodes them. Each returns [word0, word1]. */
export const cmd = {
  /** CMD_CFGI_STE(SID, Leaf). */
  cfgiSte: (sid: number, leaf = true): RawCmd => [op(OP.CFGI_STE) | putField(sid, 63, 32), leaf ? 1n : 0n],
  /** CMD_CFGI_STE_RANGE(SID, Range): 2^(Range+1) StreamIDs from SID aligned down; Range 31 = CMD_CFGI_ALL. */
  cfgiSteRange: (sid: number, range: number): RawCmd => [
    op(OP.CFGI_STE_RANGE) | putField(sid, 63, 32),
    putField(range, 4, 0),
  ],
  /** CMD_CFGI_ALL (Linux: CFGI_STE_RANGE with Range 31). */
  cfgiAll: (): RawCmd => [op(OP.CFGI_STE_RANGE), 31n],
  /** CMD_CFGI_CD(SID, SSID, Leaf). */
  cfgiCd: (sid: number, ssid: number, leaf = true): RawCmd => [
    op(OP.CFGI_CD) | putField(ssid, 31, 12) | putField(sid, 63, 32),
    leaf ? 1n : 0n,
  ],
  /** CMD_CFGI_CD_ALL(SID). */
  cfgiCdAll: (sid: number): RawCmd => [op(OP.CFGI_CD_ALL) | putField(sid, 63, 32), 0n],
  /** CMD_TLBI_NH_ALL(VMID). */
  tlbiNhAll: (vmid: number): RawCmd => [op(OP.TLBI_NH_ALL) | putField(vmid, 47, 32), 0n],
  /** CMD_TLBI_NH_ASID(VMID, ASID). */
  tlbiNhAsid: (vmid: number, asid: number): RawCmd => [
    op(OP.TLBI_NH_ASID) | putField(vmid, 47, 32) | putField(asid, 63, 48),
    0n,
  ],
  /**
   * CMD_TLBI_NH_VA(VMID, ASID, Addr, Leaf[, range]). With `range` (RIL):
   * NUM/SCALE/TG encode (NUM+1)·2^SCALE granules of TG (1 = 4 KiB, 2 = 16 KiB, 3 = 64 KiB).
   */
  tlbiNhVa: (
    vmid: number,
    asid: number,
    addr: bigint,
    leaf = true,
    range?: { num: number; scale: number; tg: number },
  ): RawCmd => tlbiAddr(OP.TLBI_NH_VA, vmid, asid, addr, leaf, range),
  /** CMD_TLBI_NH_VAA(VMID, Addr): every ASID. */
  tlbiNhVaa: (vmid: number, addr: bigint, leaf = true): RawCmd =>
    tlbiAddr(OP.TLBI_NH_VAA, vmid, 0, addr, leaf, undefined),
  /** CMD_TLBI_S2_IPA(VMID, IPA, Leaf[, range]). */
  tlbiS2Ipa: (
    vmid: number,
    ipa: bigint,
    leaf = true,
    range?: { num: number; scale: number; tg: number },
  ): RawCmd => tlbiAddr(OP.TLBI_S2_IPA, vmid, 0, ipa & genmask(51, 12), leaf, range),
  /** CMD_TLBI_S12_VMALL(VMID). */
  tlbiS12Vmall: (vmid: number): RawCmd => [op(OP.TLBI_S12_VMALL) | putField(vmid, 47, 32), 0n],
  /** CMD_TLBI_NSNH_ALL. */
  tlbiNsnhAll: (): RawCmd => [op(OP.TLBI_NSNH_ALL), 0n],
  /** CMD_ATC_INV(SID, SSID?, Global, Addr, Size): 2^Size pages of 4 KiB from Addr (aligned down); Size 52 = everything (Linux ATC_INV_SIZE_ALL). */
  atcInv: (sid: number, ssid: number | undefined, addr: bigint, size: number, global = false): RawCmd => [
    op(OP.ATC_INV) | ssv(ssid) | (global ? bitMask(9) : 0n) | putField(sid, 63, 32),
    putField(size, 5, 0) | (addr & genmask(63, 12)),
  ],
  /** CMD_PRI_RESP(SID, SSID?, GRPID, Resp). */
  priResp: (sid: number, ssid: number | undefined, grpid: number, resp: number): RawCmd => [
    op(OP.PRI_RESP) | ssv(ssid) | putField(sid, 63, 32),
    putField(grpid, 8, 0) | putField(resp, 13, 12),
  ],
  /** CMD_RESUME(SID, STAG, Action: 0 retry... see IHI 0070 §4.7.2; Linux CMDQ_RESUME_0_RESP_*). */
  resume: (sid: number, stag: number, action: number): RawCmd => [
    op(OP.RESUME) | putField(action, 13, 12) | putField(sid, 63, 32),
    putField(stag, 15, 0),
  ],
  /** CMD_SYNC(CS, MSIData, MSIAddr). CS: 0 none, 1 IRQ (MSI write), 2 SEV. */
  sync: (cs = 0, msiData = 0, msiAddr = 0n): RawCmd => [
    op(OP.SYNC) | putField(cs, 13, 12) | putField(msiData, 63, 32),
    msiAddr & genmask(51, 2),
  ],
};

function tlbiAddr(
  opcode: number,
  vmid: number,
  asid: number,
  addr: bigint,
  leaf: boolean,
  range: { num: number; scale: number; tg: number } | undefined,
): RawCmd {
  const w0 =
    op(opcode) |
    putField(range?.num ?? 0, 16, 12) |
    putField(range?.scale ?? 0, 24, 20) |
    putField(vmid, 47, 32) |
    putField(asid, 63, 48);
  const w1 = (leaf ? 1n : 0n) | putField(range?.tg ?? 0, 11, 10) | (addr & genmask(63, 12));
  return [w0, w1];
}

/** TLBI TG field → granule log2 (IHI 0070 §4.4.1): 1 = 4 KiB, 2 = 16 KiB, 3 = 64 KiB. */
const TG_LOG2: Readonly<Record<number, number>> = { 1: 12, 2: 14, 3: 16 };

function decodeTlbiAddr(
  f: SmmuFeatures,
  name: "tlbi_nh_va" | "tlbi_nh_vaa" | "tlbi_s2_ipa",
  w0: bigint,
  w1: bigint,
): Cmd | undefined {
  const tg = getField(w1, 11, 10);
  let range: bigint | undefined;
  if (tg !== 0) {
    const g = TG_LOG2[tg]!;
    const supported = (g === 12 && f.gran4k) || (g === 14 && f.gran16k) || (g === 16 && f.gran64k);
    if (!f.ril || !supported) return undefined;
    range = BigInt(getField(w0, 16, 12) + 1) << BigInt(getField(w0, 24, 20) + g);
  }
  const addr = name === "tlbi_s2_ipa" ? w1 & genmask(51, 12) : w1 & genmask(63, 12);
  return {
    op: name,
    vmid: getField(w0, 47, 32),
    asid: name === "tlbi_nh_va" ? getField(w0, 63, 48) : 0,
    addr,
    range,
    leaf: bit(w1, 0),
  };
}

/**
 * Decode a command as the SMMU does.
 * @returns the command, or undefined when it is CERROR_ILL (see the module comment).
 */
export function decodeCmd(f: SmmuFeatures, raw: RawCmd): Cmd | undefined {
  const [w0, w1] = raw;
  const opcode = getField(w0, 7, 0);
  const sid = getField(w0, 63, 32);
  const hasSsv = bit(w0, 11);
  const ssid = hasSsv ? getField(w0, 31, 12) : undefined;
  if (hasSsv && f.ssidBits === 0) return undefined;
  switch (opcode) {
    case OP.PREFETCH_CONFIG:
    case OP.PREFETCH_ADDR:
      return { op: "prefetch" };
    case OP.CFGI_STE:
      return { op: "cfgi_ste", sid, leaf: bit(w1, 0) };
    case OP.CFGI_STE_RANGE:
      return { op: "cfgi_ste_range", sid, range: getField(w1, 4, 0) };
    case OP.CFGI_CD:
      return { op: "cfgi_cd", sid, ssid: getField(w0, 31, 12), leaf: bit(w1, 0) };
    case OP.CFGI_CD_ALL:
      return { op: "cfgi_cd_all", sid };
    case OP.TLBI_NH_ALL:
      return f.s1 ? { op: "tlbi_nh_all", vmid: getField(w0, 47, 32) } : undefined;
    case OP.TLBI_NH_ASID:
      return f.s1
        ? { op: "tlbi_nh_asid", vmid: getField(w0, 47, 32), asid: getField(w0, 63, 48) }
        : undefined;
    case OP.TLBI_NH_VA:
      return f.s1 ? decodeTlbiAddr(f, "tlbi_nh_va", w0, w1) : undefined;
    case OP.TLBI_NH_VAA:
      return f.s1 ? decodeTlbiAddr(f, "tlbi_nh_vaa", w0, w1) : undefined;
    case OP.TLBI_S2_IPA:
      return f.s2 ? decodeTlbiAddr(f, "tlbi_s2_ipa", w0, w1) : undefined;
    case OP.TLBI_S12_VMALL:
      return f.s2 ? { op: "tlbi_s12_vmall", vmid: getField(w0, 47, 32) } : undefined;
    case OP.TLBI_NSNH_ALL:
      return { op: "tlbi_nsnh_all" };
    case OP.ATC_INV: {
      const size = getField(w1, 5, 0);
      if (!f.ats || size > 52) return undefined;
      return { op: "atc_inv", sid, ssid, global: bit(w0, 9), addr: w1 & genmask(63, 12), size };
    }
    case OP.PRI_RESP: {
      const resp = getField(w1, 13, 12);
      if (!f.pri || resp === 3) return undefined;
      return { op: "pri_resp", sid, ssid, grpid: getField(w1, 8, 0), resp };
    }
    case OP.RESUME: {
      const action = getField(w0, 13, 12);
      return action === 3 ? undefined : { op: "resume", sid, stag: getField(w1, 15, 0), action };
    }
    case OP.SYNC: {
      const cs = getField(w0, 13, 12);
      if (cs === 3) return undefined;
      return { op: "sync", cs, msiData: getField(w0, 63, 32), msiAddr: w1 & genmask(51, 2) };
    }
    default:
      return undefined;
  }
}
