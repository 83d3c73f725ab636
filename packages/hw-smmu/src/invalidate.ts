/**
 * The invalidations the driver issues after unmapping from a domain: TLBIs
 * (range form with IDR3.RIL, whole ASID/VMID beyond CMDQ_MAX_TLBI_OPS
 * pages), ATC_INV for the attached streams with ATS, then CMD_SYNC.
 *
 * Sources: Linux drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c
 * (__arm_smmu_tlb_inv_range, arm_smmu_tlb_inv_range_domain,
 * arm_smmu_atc_inv_to_cmd, arm_smmu_atc_inv_domain).
 */
import { getField, u64ToNumber } from "./bits";
import { cmd, decodeCmd, type RawCmd } from "./commands";
import { applyCmd } from "./exec";
import type { SmmuDomain, SmmuInstance } from "./state";
import { EATS } from "./ste";
import { type Tlb, tlbInvAsid, tlbInvIpa, tlbInvVa, tlbInvVmidAll, tlbInvVmidS1 } from "./tlb";

const TWO53 = 2n ** 53n;

/** Linux CMDQ_MAX_TLBI_OPS (4 KiB pages): at or beyond this many pages, invalidate the whole ASID/VMID. */
export const CMDQ_MAX_TLBI_OPS = 512;

/**
 * The TLBIs for [iova, iova + pages·4 KiB) in Linux's
 * __arm_smmu_tlb_inv_range: with IDR3.RIL, range commands (SCALE = lowest
 * set bit of the remaining page count, NUM = the next ≤ 5 bits − 1, TG = 4 KiB);
 * without, one command per page.
 */
function rangeTlbis(
  inst: SmmuInstance,
  iova: bigint,
  pages: number,
  one: (a: bigint, r?: Range) => RawCmd,
): RawCmd[] {
  const out: RawCmd[] = [];
  let a = iova;
  let left = pages;
  while (left > 0) {
    if (!inst.features.ril) {
      out.push(one(a));
      a += 4096n;
      left--;
      continue;
    }
    const scale = Math.log2(left & -left);
    const num = Math.floor(left / 2 ** scale) % 32;
    out.push(one(a, { num: num - 1, scale, tg: 1 }));
    a += BigInt(num * 2 ** scale) * 4096n;
    left -= num * 2 ** scale;
  }
  return out;
}

type Range = { num: number; scale: number; tg: number };

/**
 * The invalidation commands Linux issues after unmapping [iova, iova+length)
 * from `d` (arm_smmu_tlb_inv_range_domain + arm_smmu_atc_inv_domain):
 * stage 1 → TLBI_NH_VA (ASID, VMID 0), or TLBI_NH_ASID from
 * CMDQ_MAX_TLBI_OPS pages up; stage 2 → TLBI_S2_IPA (or TLBI_S12_VMALL)
 * then TLBI_NH_ALL(VMID) for the nested stage-1 entries built on it; then
 * CMD_ATC_INV for each attached stream whose STE has EATS = 1; CMD_SYNC.
 */
export function unmapInvalidations(
  inst: SmmuInstance,
  d: SmmuDomain,
  iova: bigint,
  length: bigint,
): RawCmd[] {
  const pages = Number(length / 4096n);
  let out: RawCmd[];
  if (d.kind === "s1")
    out =
      pages >= CMDQ_MAX_TLBI_OPS
        ? [cmd.tlbiNhAsid(0, d.asid)]
        : rangeTlbis(inst, iova, pages, (a, r) => cmd.tlbiNhVa(0, d.asid, a, true, r));
  else
    out = [
      ...(pages >= CMDQ_MAX_TLBI_OPS
        ? [cmd.tlbiS12Vmall(d.vmid)]
        : rangeTlbis(inst, iova, pages, (a, r) => cmd.tlbiS2Ipa(d.vmid, a, true, r))),
      cmd.tlbiNhAll(d.vmid),
    ];
  out.push(...atcInvalidations(inst, d, iova, length));
  out.push(cmd.sync());
  return out;
}

/**
 * The CMD_ATC_INVs of `unmapInvalidations` (none without IDR0.ATS or
 * ATS-enabled streams); `onlyCached`: only those for streams whose ATC
 * holds entries (the others change nothing when consumed).
 */
function atcInvalidations(
  inst: SmmuInstance,
  d: SmmuDomain,
  iova: bigint,
  length: bigint,
  onlyCached = false,
): RawCmd[] {
  if (!inst.features.ats) return [];
  let streams = attachedWithAts(inst, d);
  if (onlyCached) streams = streams.filter((s) => inst.atc.has(s.sid));
  if (streams.length === 0) return [];
  // arm_smmu_atc_inv_to_cmd: the smallest naturally aligned 2^Size-page span covering the range.
  const first = iova >> 12n;
  const last = (iova + length - 1n) >> 12n;
  const size = (first ^ last).toString(2).length - ((first ^ last) === 0n ? 1 : 0);
  const start = (first >> BigInt(size)) << BigInt(12 + size);
  return streams.map((s) => cmd.atcInv(s.sid, s.ssid, start, size));
}

/**
 * What the SMMU does on consuming `unmapInvalidations(inst, d, iova, length)`
 * (= `runCommands` of them), without encoding and decoding every command:
 * the map/unmap hot path. The TLBIs of one unmap together cover exactly
 * [iova, iova + length) — per page, or range commands whose spans add up —
 * and a leaf entry overlaps that range iff it contains one of its pages, so
 * one range removal per tag does what the commands do one by one. ATC_INVs
 * (streams with ATS) still go through the command decoder; SYNC changes no
 * cache. Tested against the command path (test/invalidate.test.ts).
 */
export function invalidateAfterUnmap(
  inst: SmmuInstance,
  d: SmmuDomain,
  iova: bigint,
  length: bigint,
): SmmuInstance {
  const tlb = tlbAfterUnmap(inst.tlb, d, iova, length);
  let out = tlb === inst.tlb ? inst : { ...inst, tlb };
  if (inst.atc.size === 0) return out;
  for (const raw of atcInvalidations(inst, d, iova, length, true)) {
    const c = decodeCmd(out.features, raw);
    if (c !== undefined) out = applyCmd(out, c);
  }
  return out;
}

/** The TLB after the TLBIs of an unmap of [iova, iova + length) (bytes) from `d`. */
function tlbAfterUnmap(tlb: Tlb, d: SmmuDomain, iova: bigint, length: bigint): Tlb {
  // An empty TLB has nothing to drop (the unmap of pages no device touched): no conversions, no match closures.
  if (tlb.count === 0) return tlb;
  // Below 2^53 the page count is exact in a number: no bigint division.
  const pages = length < TWO53 ? Math.floor(u64ToNumber(length) / 4096) : Number(length / 4096n);
  const start = u64ToNumber(iova);
  const end = start + pages * 4096;
  // No pages, no range TLBI (an empty span would still "overlap" the leaf around its start).
  if (d.kind === "s1") {
    if (pages >= CMDQ_MAX_TLBI_OPS) return tlbInvAsid(tlb, 0, d.asid);
    return pages > 0 ? tlbInvVa(tlb, 0, d.asid, start, end) : tlb;
  }
  if (pages >= CMDQ_MAX_TLBI_OPS) tlb = tlbInvVmidAll(tlb, d.vmid);
  else if (pages > 0) tlb = tlbInvIpa(tlb, d.vmid, start, end);
  return tlbInvVmidS1(tlb, d.vmid);
}

/** Streams attached to `d` (directly, or to nested domains over it) whose STE enables ATS. */
function attachedWithAts(inst: SmmuInstance, d: SmmuDomain): { sid: number; ssid?: number }[] {
  const out: { sid: number; ssid?: number }[] = [];
  for (const dom of inst.domains.values()) {
    if (dom.id !== d.id && dom.parent !== d.id) continue;
    for (const a of dom.attached) {
      const w1 = steWord1(inst, a.sid);
      if (w1 !== undefined && getField(w1, 29, 28) === EATS.TRANS) out.push(a);
    }
  }
  return out;
}

/** Word 1 of the STE the driver last wrote for `sid` (from table memory). */
function steWord1(inst: SmmuInstance, sid: number): bigint | undefined {
  const st = inst.strtab;
  if (st.fmt === 0) return inst.mem.readU64(st.base + sid * 64 + 8);
  const l1 = inst.mem.readU64(st.base + Math.floor(sid / 2 ** st.split) * 8);
  if ((l1 & 0x1fn) === 0n) return undefined;
  return inst.mem.readU64(Number(l1 & 0xffffffffffc0n) + (sid % 2 ** st.split) * 64 + 8);
}
