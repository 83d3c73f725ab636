/**
 * Caches are stale until invalidated (Arm IHI 0070 §3.17, §4.3, §4.4): a
 * change in memory is invisible while a cached STE, CD or translation
 * covers it, and the right command makes it visible — the wrong one does not.
 */
import { describe, expect, it } from "vitest";
import { cmd, encodeCd, encodeSte, STE_CFG, translate } from "../src/index";
import { alloc, inst0, type Log, ok, put64, withSmmu } from "./fixture";

const SID = 0x20;
const RW = 0x743n; // AF | SH | AP[1] | page

function dma(log: Log, iova: bigint, sid = SID) {
  return ok(log, { type: "smmu.dma", data: { instance: 0, sid, iova, length: 4, write: false } });
}

function pa(log: Log, iova: bigint, sid = SID): number | undefined {
  const r = translate(log.state, 0, { sid, iova, length: 1, write: false });
  return r?.ok === true ? r.runs[0]!.pa : undefined;
}

function submit(log: Log, ...cmds: (readonly [bigint, bigint])[]) {
  return ok(log, {
    type: "smmu.cmdq.submit",
    data: { instance: 0, cmds: [...cmds, cmd.sync()].map((c) => [c[0], c[1]]) },
  });
}

/** Stage-1 stream: CD (ASID 1) → 4-level tables mapping IOVA 0x1000 → 0x5000_0000. */
function setup(log: Log) {
  const [l0, l1, l2, l3, cdt] = [alloc(log), alloc(log), alloc(log), alloc(log), alloc(log)];
  put64(log, l0, BigInt(l1) | 3n);
  put64(log, l1, BigInt(l2) | 3n);
  put64(log, l2, BigInt(l3) | 3n);
  put64(log, l3 + 8, 0x5000_0000n | RW);
  const cd = (ttb0: number, asid = 1) =>
    encodeCd({ t0sz: 16, v: true, ips: 5, aa64: true, r: true, asid, ttb0 });
  ok(log, {
    type: "smmu.ste.write",
    data: { instance: 0, sid: SID, ste: encodeSte({ v: true, config: STE_CFG.S1_TRANS, s1ContextPtr: cdt }) },
  });
  ok(log, { type: "smmu.cd.write", data: { instance: 0, sid: SID, ssid: 0, cd: cd(l0) } });
  return { l0, l1, l2, l3, cdt, cd };
}

describe("STE cache", () => {
  it("keeps using a cached STE until CMD_CFGI_STE", () => {
    const log = withSmmu();
    ok(log, {
      type: "smmu.ste.write",
      data: { instance: 0, sid: 3, ste: encodeSte({ v: true, config: STE_CFG.BYPASS }) },
    });
    dma(log, 0x1000n, 3);
    ok(log, {
      type: "smmu.ste.write",
      data: { instance: 0, sid: 3, ste: encodeSte({ v: true, config: STE_CFG.ABORT }) },
    });
    expect(pa(log, 0x1000n, 3)).toBe(0x1000); // stale: still bypass
    submit(log, cmd.cfgiSte(4)); // another StreamID: no effect
    expect(pa(log, 0x1000n, 3)).toBe(0x1000);
    submit(log, cmd.cfgiSte(3));
    expect(pa(log, 0x1000n, 3)).toBeUndefined(); // abort now
  });

  it("CFGI_STE_RANGE covers 2^(Range+1) StreamIDs; CFGI_ALL covers all", () => {
    const log = withSmmu();
    for (const sid of [2, 5]) {
      ok(log, {
        type: "smmu.ste.write",
        data: { instance: 0, sid, ste: encodeSte({ v: true, config: STE_CFG.BYPASS }) },
      });
      dma(log, 0n, sid);
    }
    expect([...inst0(log).steCache.keys()].sort()).toEqual([2, 5]);
    submit(log, cmd.cfgiSteRange(1, 1)); // SIDs 0..3
    expect([...inst0(log).steCache.keys()]).toEqual([5]);
    submit(log, cmd.cfgiAll());
    expect(inst0(log).steCache.size).toBe(0);
  });
});

describe("CD cache", () => {
  it("keeps a cached CD (and its TTB0) until CMD_CFGI_CD", () => {
    const log = withSmmu();
    const t = setup(log);
    dma(log, 0x1000n);
    // A second table tree mapping IOVA 0x1000 → 0x6000_0000, installed by rewriting the CD.
    const [m0, m1, m2, m3] = [alloc(log), alloc(log), alloc(log), alloc(log)];
    put64(log, m0, BigInt(m1) | 3n);
    put64(log, m1, BigInt(m2) | 3n);
    put64(log, m2, BigInt(m3) | 3n);
    put64(log, m3 + 8, 0x6000_0000n | RW);
    ok(log, { type: "smmu.cd.write", data: { instance: 0, sid: SID, ssid: 0, cd: t.cd(m0) } });
    submit(log, cmd.tlbiNhAsid(0, 1)); // the TLB is clean; the CD is still cached
    expect(pa(log, 0x1000n)).toBe(0x5000_0000);
    submit(log, cmd.cfgiCd(SID, 0), cmd.tlbiNhAsid(0, 1));
    expect(pa(log, 0x1000n)).toBe(0x6000_0000);
  });

  it("CFGI_CD_ALL drops every CD of the StreamID; CFGI_STE drops the CDs fetched through it", () => {
    const log = withSmmu();
    setup(log);
    dma(log, 0x1000n);
    expect(inst0(log).cdCache.size).toBe(1);
    submit(log, cmd.cfgiCdAll(SID));
    expect(inst0(log).cdCache.size).toBe(0);
    dma(log, 0x1000n);
    submit(log, cmd.cfgiSte(SID));
    expect([inst0(log).steCache.size, inst0(log).cdCache.size]).toEqual([0, 0]);
  });
});

describe("TLB", () => {
  it("keeps a stale translation until TLBI_NH_VA for its ASID and address", () => {
    const log = withSmmu();
    const t = setup(log);
    dma(log, 0x1000n);
    put64(log, t.l3 + 8, 0x7000_0000n | RW);
    expect(pa(log, 0x1000n)).toBe(0x5000_0000);
    submit(log, cmd.tlbiNhVa(0, 2, 0x1000n)); // wrong ASID
    submit(log, cmd.tlbiNhVa(0, 1, 0x2000n)); // wrong page
    submit(log, cmd.tlbiS12Vmall(1)); // wrong VMID
    expect(pa(log, 0x1000n)).toBe(0x5000_0000);
    submit(log, cmd.tlbiNhVa(0, 1, 0x1000n));
    expect(pa(log, 0x1000n)).toBe(0x7000_0000);
  });

  it("range TLBI_NH_VA, TLBI_NH_VAA, TLBI_NH_ALL, TLBI_NSNH_ALL each drop what they cover", () => {
    const log = withSmmu();
    setup(log);
    dma(log, 0x1000n);
    const count = () => inst0(log).tlb.count;
    expect(count()).toBe(1);
    submit(log, cmd.tlbiNhVa(0, 1, 0x2000n, true, { num: 1, scale: 0, tg: 1 })); // [0x2000, 0x4000)
    expect(count()).toBe(1);
    submit(log, cmd.tlbiNhVa(0, 1, 0n, true, { num: 1, scale: 0, tg: 1 })); // [0, 0x2000)
    expect(count()).toBe(0);
    dma(log, 0x1000n);
    submit(log, cmd.tlbiNhVaa(0, 0x1000n));
    expect(count()).toBe(0);
    dma(log, 0x1000n);
    submit(log, cmd.tlbiNhAll(0));
    expect(count()).toBe(0);
    dma(log, 0x1000n);
    submit(log, cmd.tlbiNsnhAll());
    expect(count()).toBe(0);
  });

  it("evicts the oldest entry beyond its capacity (FIFO)", () => {
    const log = withSmmu({ tlbEntries: 2 });
    const t = setup(log);
    put64(log, t.l3 + 16, 0x5000_1000n | RW);
    put64(log, t.l3 + 24, 0x5000_2000n | RW);
    for (const a of [0x1000n, 0x2000n, 0x3000n]) dma(log, a);
    const bases = [...inst0(log).tlb.tags.get(1)!.entries.values()].map((e) => e.base);
    expect(bases.sort((a, b) => a - b)).toEqual([0x2000, 0x3000]);
  });

  it("TLBI_S2_IPA drops stage-2 entries by IPA; TLBI_S12_VMALL by VMID", () => {
    const log = withSmmu();
    const [l1, l2, l3] = [alloc(log), alloc(log), alloc(log)];
    ok(log, {
      type: "smmu.ste.write",
      data: {
        instance: 0,
        sid: 4,
        ste: encodeSte({
          v: true,
          config: STE_CFG.S2_TRANS,
          s2vmid: 9,
          s2t0sz: 25,
          s2sl0: 1,
          s2ps: 5,
          s2aa64: true,
          s2ttb: l1,
        }),
      },
    });
    put64(log, l1, BigInt(l2) | 3n);
    put64(log, l2, BigInt(l3) | 3n);
    put64(log, l3 + 8, 0x9000_0000n | 0x7ffn);
    dma(log, 0x1000n, 4);
    put64(log, l3 + 8, 0xa000_0000n | 0x7ffn);
    expect(pa(log, 0x1000n, 4)).toBe(0x9000_0000);
    submit(log, cmd.tlbiS2Ipa(8, 0x1000n));
    expect(pa(log, 0x1000n, 4)).toBe(0x9000_0000);
    submit(log, cmd.tlbiS2Ipa(9, 0x1000n));
    expect(pa(log, 0x1000n, 4)).toBe(0xa000_0000);
    dma(log, 0x1000n, 4);
    put64(log, l3 + 8, 0xb000_0000n | 0x7ffn);
    submit(log, cmd.tlbiS12Vmall(9));
    expect(pa(log, 0x1000n, 4)).toBe(0xb000_0000);
  });
});

describe("device ATC (ATS)", () => {
  /** A stage-1 domain mapping IOVA 0x1000 → PA 0x40000, attached with ATS (STE.EATS = 1). */
  function atsSetup(log: Log) {
    ok(log, { type: "smmu.domain.alloc", data: { instance: 0, kind: "s1" } });
    ok(log, {
      type: "smmu.domain.map",
      data: { instance: 0, domain: 1, iova: 0x1000n, pfnRuns: [{ pfn: 0x40, count: 1 }], prot: 3 },
    });
    ok(log, { type: "smmu.domain.attach", data: { instance: 0, domain: 1, sid: 9, ats: true } });
  }
  const atsRead = (log: Log) =>
    ok(log, {
      type: "smmu.dma",
      data: { instance: 0, sid: 9, iova: 0x1000n, length: 4, write: false, ats: true },
    });

  it("caches ATS completions; a TLBI alone leaves the device's ATC stale until CMD_ATC_INV", () => {
    const log = withSmmu();
    atsSetup(log);
    expect(atsRead(log).map((e) => e.type)).toContain("smmu.atc.filled");
    expect(inst0(log).atc.get(9)).toEqual([{ ssid: -1, base: 0x1000, log2size: 12, pa: 0x40000, perm: 0xf }]);
    // Software unmaps by hand: clear the leaf, TLBI + SYNC, but no ATC_INV.
    const ttb = inst0(log).domains.get(1)!.ttb;
    const mem = inst0(log).mem;
    let table = ttb;
    for (const shift of [39, 30, 21])
      table = Number(mem.readU64(table + (Math.floor(0x1000 / 2 ** shift) % 512) * 8) & 0xffff_ffff_f000n);
    put64(log, table + 8, 0n);
    submit(log, cmd.tlbiNhVa(0, 1, 0x1000n));
    expect(pa(log, 0x1000n, 9)).toBeUndefined(); // untranslated requests fault now
    expect(atsRead(log).map((e) => e.type)).toEqual([]); // the ATC still translates: stale, nothing filled
    submit(log, cmd.atcInv(9, 5, 0x1000n, 0)); // another PASID: not this entry
    expect(inst0(log).atc.get(9)!.length).toBe(1);
    submit(log, cmd.atcInv(9, undefined, 0x1000n, 0));
    expect(inst0(log).atc.get(9)).toEqual([]);
    atsRead(log); // an ATS translation fault goes back to the device, unrecorded
    expect(inst0(log).evtq.records).toEqual([]);
  });

  it("Translated requests need an STE that allows ATS: EATS = 0 (or bypass) records F_TRANSL_FORBIDDEN", () => {
    const log = withSmmu();
    atsSetup(log);
    atsRead(log);
    const ste = encodeSte({ v: true, config: STE_CFG.BYPASS }); // a bypass STE's EATS is effectively 0
    ok(log, { type: "smmu.ste.write", data: { instance: 0, sid: 9, ste } });
    submit(log, cmd.cfgiSte(9));
    atsRead(log);
    expect(inst0(log).evtq.records.map((r) => r[0])).toEqual([0x0000_0009_0000_0007n]);
    ok(log, { type: "smmu.evtq.consume", data: { instance: 0, count: 1 } });
    const cdt = inst0(log).cdTables.get(9)!;
    const noAts = encodeSte({
      v: true,
      config: STE_CFG.S1_TRANS,
      s1fmt: cdt.s1fmt,
      s1ContextPtr: cdt.base,
      s1cdmax: cdt.s1cdmax,
      s1dss: 2,
    });
    ok(log, { type: "smmu.ste.write", data: { instance: 0, sid: 9, ste: noAts } });
    submit(log, cmd.cfgiSte(9));
    atsRead(log);
    // F_TRANSL_FORBIDDEN (0x07) | SID 9 << 32; RnW 1 << 35; InputAddr
    expect(inst0(log).evtq.records).toEqual([[0x0000_0009_0000_0007n, 0x0000_0008_0000_0000n, 0x1000n, 0n]]);
  });

  it("the driver's unmap sends ATC_INV, so the device cannot use the old translation", () => {
    const log = withSmmu();
    atsSetup(log);
    atsRead(log);
    ok(log, { type: "smmu.domain.unmap", data: { instance: 0, domain: 1, iova: 0x1000n, length: 0x1000n } });
    expect(inst0(log).atc.get(9)).toEqual([]);
  });
});
