/**
 * The invalidations the driver issues after unmapping from a domain: TLBIs
 * (range form with IDR3.RIL, whole ASID/VMID beyond CMDQ_MAX_TLBI_OPS
 * pages), ATC_INV for the attached streams with ATS, then CMD_SYNC.
 *
 * Sources: Linux drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c
 * (__arm_smmu_tlb_inv_range, arm_smmu_tlb_inv_range_domain,
 * arm_smmu_atc_inv_to_cmd, arm_smmu_atc_inv_domain).
 */
import { getField } from "./bits";
import { cmd, type RawCmd } from "./commands";
import type { SmmuDomain, SmmuInstance } from "./state";
import { EATS } from "./ste";

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
  if (inst.features.ats) {
    // arm_smmu_atc_inv_to_cmd: the smallest naturally aligned 2^Size-page span covering the range.
    const first = iova >> 12n;
    const last = (iova + length - 1n) >> 12n;
    const size = (first ^ last).toString(2).length - ((first ^ last) === 0n ? 1 : 0);
    const start = (first >> BigInt(size)) << BigInt(12 + size);
    for (const s of attachedWithAts(inst, d)) out.push(cmd.atcInv(s.sid, s.ssid, start, size));
  }
  out.push(cmd.sync());
  return out;
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
