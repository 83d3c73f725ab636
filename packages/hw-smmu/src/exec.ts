/**
 * What a consumed command does to the SMMU's state: invalidate the
 * configuration cache or the TLB, deliver a PRI response, complete a SYNC.
 *
 * Sources: Arm IHI 0070 §4.3 (CFGI_*: STE and CD invalidation scope),
 * §4.4 (TLBI_* scope by VMID/ASID/address, ranges), §4.5 (ATC_INV), §4.6
 * (PRI_RESP), §4.7 (RESUME, SYNC). QEMU hw/arm/smmuv3.c
 * smmuv3_cmdq_consume applies the same invalidations to its caches.
 *
 * CFGI_STE and CFGI_STE_RANGE also drop the CDs (and L1CDs) cached through
 * the STEs they cover: IHI 0070 §5.3.1 lists CMD_CFGI_STE among the scopes
 * that invalidate cached CDs. CMD_ATC_INV acts on the device ATCs of atc.ts;
 * CMD_RESUME is consumed and ignored (no stall model: no transaction is
 * ever stalled, IDR0.STALL_MODEL = 1).
 */
import { atcInvalidate } from "./atc";
import type { Cmd } from "./commands";
import { cdKey, type SmmuInstance } from "./state";
import { tlbClear, tlbInvAsid, tlbInvIpa, tlbInvVa, tlbInvVmidAll, tlbInvVmidS1 } from "./tlb";

function dropSte(inst: SmmuInstance, match: (sid: number) => boolean): SmmuInstance {
  let steCache = inst.steCache;
  let cdCache = inst.cdCache;
  if ([...steCache.keys()].some(match)) steCache = new Map([...steCache].filter(([sid]) => !match(sid)));
  if ([...cdCache.keys()].some((k) => match(Math.floor(k / 2 ** 20))))
    cdCache = new Map([...cdCache].filter(([k]) => !match(Math.floor(k / 2 ** 20))));
  return steCache === inst.steCache && cdCache === inst.cdCache ? inst : { ...inst, steCache, cdCache };
}

function dropCd(inst: SmmuInstance, match: (k: number) => boolean): SmmuInstance {
  if (![...inst.cdCache.keys()].some(match)) return inst;
  return { ...inst, cdCache: new Map([...inst.cdCache].filter(([k]) => !match(k))) };
}

/** Byte range [start, end) a TLBI by address covers: its range, or the 4 KiB page at `addr` (leaf entries containing it). */
function tlbiSpan(addr: bigint, range: bigint | undefined): [number, number] {
  const start = Number(addr);
  return [start, start + Number(range ?? 1n)];
}

/** Apply one decoded command (already consumed from the queue) to the instance's caches and PRI state. */
export function applyCmd(inst: SmmuInstance, c: Cmd): SmmuInstance {
  switch (c.op) {
    case "cfgi_ste":
      return dropSte(inst, (sid) => sid === c.sid);
    case "cfgi_ste_range": {
      const span = 2 ** (c.range + 1);
      const first = Math.floor(c.sid / span) * span;
      return dropSte(inst, (sid) => sid >= first && sid < first + span);
    }
    case "cfgi_cd":
      return dropCd(inst, (k) => k === cdKey(c.sid, c.ssid));
    case "cfgi_cd_all":
      return dropCd(inst, (k) => Math.floor(k / 2 ** 20) === c.sid);
    case "tlbi_nh_all":
      return { ...inst, tlb: tlbInvVmidS1(inst.tlb, c.vmid) };
    case "tlbi_nh_asid":
      return { ...inst, tlb: tlbInvAsid(inst.tlb, c.vmid, c.asid) };
    case "tlbi_nh_va":
    case "tlbi_nh_vaa": {
      const [s, e] = tlbiSpan(c.addr, c.range);
      return { ...inst, tlb: tlbInvVa(inst.tlb, c.vmid, c.op === "tlbi_nh_va" ? c.asid : undefined, s, e) };
    }
    case "tlbi_s2_ipa": {
      const [s, e] = tlbiSpan(c.addr, c.range);
      return { ...inst, tlb: tlbInvIpa(inst.tlb, c.vmid, s, e) };
    }
    case "tlbi_s12_vmall":
      return { ...inst, tlb: tlbInvVmidAll(inst.tlb, c.vmid) };
    case "tlbi_nsnh_all":
      return { ...inst, tlb: tlbClear(inst.tlb) };
    case "pri_resp": {
      const same = (p: { sid: number; ssid?: number; grpid: number }) =>
        p.sid === c.sid && p.ssid === c.ssid && p.grpid === c.grpid;
      return {
        ...inst,
        prgs: inst.prgs.filter((p) => !same(p)),
        priResponses: [
          ...inst.priResponses,
          { sid: c.sid, ...(c.ssid === undefined ? {} : { ssid: c.ssid }), grpid: c.grpid, resp: c.resp },
        ],
      };
    }
    case "atc_inv": {
      const entries = inst.atc.get(c.sid);
      if (entries === undefined) return inst;
      const atc = new Map(inst.atc);
      atc.set(c.sid, atcInvalidate(entries, c.ssid, c.addr, c.size));
      return { ...inst, atc };
    }
    case "prefetch":
    case "resume":
    case "sync":
      return inst;
  }
}
