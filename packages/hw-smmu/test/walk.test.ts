/**
 * Table walks on tables built by hand, descriptor by descriptor, from the
 * VMSAv8-64 formats (Arm ARM D8.3): a 4-level stage-1 walk, a block, a
 * stage-2 walk with concatenated tables, a nested walk, and each fault they
 * can raise, checked against event records written by hand (IHI 0070 §7.3).
 */
import { describe, expect, it } from "vitest";
import { dmaRead, EATS, encodeCd, encodeSte, reservedRegions, STE_CFG, translate } from "../src/index";
import { alloc, evtq, type Log, ok, put64, putWords, ram64, ramBytes, ramWords, withSmmu } from "./fixture";

const SID = 0x10;
/** Stage-1 page descriptor attributes: AF (bit 10) | SH inner (9:8) | AP[1] EL0 (bit 6) | page (0b11). */
const S1_RW_EL0 = 0x743n;
const S1_RO_EL0 = 0x7c3n; // + AP[2] (bit 7): read-only

/** A CD table with one CD, an STE pointing at it, and a 4-level stage-1 table tree; returns the table PAs. */
function stage1(log: Log, cd: Partial<Parameters<typeof encodeCd>[0]> = {}) {
  const [l0, l1, l2, l3, cdt] = [alloc(log), alloc(log), alloc(log), alloc(log), alloc(log)];
  const words = encodeCd({
    t0sz: 16,
    tg0: 0,
    v: true,
    ips: 5,
    aa64: true,
    r: true,
    asid: 7,
    ttb0: l0,
    ...cd,
  });
  putWords(log, cdt, words);
  ok(log, {
    type: "smmu.ste.write",
    data: { instance: 0, sid: SID, ste: encodeSte({ v: true, config: STE_CFG.S1_TRANS, s1ContextPtr: cdt }) },
  });
  return { l0, l1, l2, l3, cdt };
}

// IOVA 0x80_4020_3456: L0 index 1, L1 index 1, L2 index 1, L3 index 3, offset 0x456.
const IOVA = 0x80_4020_3456n;

function fourLevels(log: Log, leaf: bigint) {
  const t = stage1(log);
  put64(log, t.l0 + 1 * 8, BigInt(t.l1) | 3n);
  put64(log, t.l1 + 1 * 8, BigInt(t.l2) | 3n);
  put64(log, t.l2 + 1 * 8, BigInt(t.l3) | 3n);
  put64(log, t.l3 + 3 * 8, leaf);
  return t;
}

describe("stage 1, 4 KiB granule, 48-bit input (start level 0)", () => {
  it("walks four levels to the page and moves real bytes", () => {
    const log = withSmmu();
    fourLevels(log, 0x4_5678_9000n | S1_RW_EL0);
    const r = translate(log.state, 0, { sid: SID, iova: IOVA, length: 16, write: true });
    expect(r).toMatchObject({ ok: true, runs: [{ pa: 0x4_5678_9456, length: 16 }] });
    const data = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    const ev = ok(log, {
      type: "smmu.dma",
      data: { instance: 0, sid: SID, iova: IOVA, length: 16, write: true, bytes: data },
    });
    expect(ev.map((e) => e.type)).toEqual([
      "smmu.ste.filled",
      "smmu.cd.filled",
      "smmu.tlb.filled",
      "mm.phys.written",
    ]);
    expect(ev[3]!.data).toEqual({ pa: 0x4_5678_9456n, bytes: data });
    expect(log.state.mm.ram.read(0x4_5678_9456, 16)).toEqual(data);
    expect(dmaRead(log.state, 0, { sid: SID, iova: IOVA, length: 16 })).toEqual(data);
  });

  it("splits a transaction across pages into physical runs", () => {
    const log = withSmmu();
    const t = fourLevels(log, 0x4_5678_9000n | S1_RW_EL0);
    put64(log, t.l3 + 4 * 8, 0x1000_0000n | S1_RW_EL0); // next IOVA page → elsewhere
    const r = translate(log.state, 0, { sid: SID, iova: IOVA + 0xb00n, length: 0x200, write: false });
    expect(r).toMatchObject({
      ok: true,
      runs: [
        { pa: 0x4_5678_9f56, length: 0xaa },
        { pa: 0x1000_0000, length: 0x156 },
      ],
    });
  });

  it("translates through a 2 MiB block at level 2 and a 1 GiB block at level 1", () => {
    const log = withSmmu();
    const t = fourLevels(log, 0n);
    put64(log, t.l2 + 2 * 8, 0x8000_0000n | 0x741n); // block: bits 1:0 = 0b01
    put64(log, t.l1 + 2 * 8, 0x1_c000_0000n | 0x741n);
    const viaBlock2M = 0x80_4040_0000n + 0x1_2345n; // L2 index 2
    expect(translate(log.state, 0, { sid: SID, iova: viaBlock2M, length: 1, write: false })).toMatchObject({
      runs: [{ pa: 0x8001_2345 }],
    });
    const viaBlock1G = 0x80_8000_0000n + 0x1234_5678n; // L1 index 2
    expect(translate(log.state, 0, { sid: SID, iova: viaBlock1G, length: 1, write: false })).toMatchObject({
      runs: [{ pa: 0x1_d234_5678 }],
    });
    const ev = ok(log, {
      type: "smmu.dma",
      data: { instance: 0, sid: SID, iova: viaBlock2M, length: 4, write: false },
    });
    expect(ev.find((e) => e.type === "smmu.tlb.filled")!.data).toMatchObject({
      base: 0x80_4040_0000n,
      log2size: 21,
      pa: 0x8000_0000n,
    });
  });

  it("records F_TRANSLATION for an invalid descriptor, with the record's fields", () => {
    const log = withSmmu();
    fourLevels(log, 0n);
    ok(log, { type: "smmu.dma", data: { instance: 0, sid: SID, iova: IOVA, length: 4, write: false } });
    // ID 0x10 | SID 0x10 << 32; RnW 1<<35 | CLASS IN (2) << 40; InputAddr
    expect(evtq(log)).toEqual([[0x0000_0010_0000_0010n, 0x0000_0208_0000_0000n, IOVA, 0n]]);
  });

  it("records F_PERMISSION for a write to a read-only page, and for unprivileged access to a privileged page", () => {
    const log = withSmmu();
    const t = fourLevels(log, 0x4_5678_9000n | S1_RO_EL0);
    put64(log, t.l3 + 4 * 8, 0x4_5678_a000n | 0x703n); // AP[1] = 0: privileged only
    ok(log, {
      type: "smmu.dma",
      data: { instance: 0, sid: SID, iova: IOVA, length: 1, write: true, bytes: new Uint8Array(1) },
    });
    expect(evtq(log)[0]).toEqual([0x0000_0010_0000_0013n, 0x0000_0200_0000_0000n, IOVA, 0n]);
    expect(
      translate(log.state, 0, { sid: SID, iova: IOVA + 0x1000n, length: 1, write: false }),
    ).toMatchObject({ ok: false, fault: { id: 0x13 } });
    expect(
      translate(log.state, 0, { sid: SID, iova: IOVA + 0x1000n, length: 1, write: true, privileged: true }),
    ).toMatchObject({ ok: true });
  });

  it("records F_ACCESS when AF = 0, unless CD.AFFD", () => {
    const log = withSmmu();
    fourLevels(log, 0x4_5678_9000n | (S1_RW_EL0 & ~0x400n));
    expect(translate(log.state, 0, { sid: SID, iova: IOVA, length: 1, write: false })).toMatchObject({
      fault: { id: 0x12 },
    });
    const log2 = withSmmu();
    const t = stage1(log2, { affd: true });
    put64(log2, t.l0 + 8, BigInt(t.l1) | 3n);
    put64(log2, t.l1 + 8, BigInt(t.l2) | 3n);
    put64(log2, t.l2 + 8, BigInt(t.l3) | 3n);
    put64(log2, t.l3 + 24, 0x4_5678_9000n | (S1_RW_EL0 & ~0x400n));
    expect(translate(log2.state, 0, { sid: SID, iova: IOVA, length: 1, write: false })).toMatchObject({
      ok: true,
    });
  });

  it("records F_ADDR_SIZE when the output address exceeds CD.IPS (32 bits)", () => {
    const log = withSmmu();
    const t = stage1(log, { ips: 0 });
    put64(log, t.l0 + 8, BigInt(t.l1) | 3n); // the table addresses (0x10_...) exceed 32 bits too
    expect(translate(log.state, 0, { sid: SID, iova: IOVA, length: 1, write: false })).toMatchObject({
      fault: { id: 0x11 },
    });
  });

  it("faults an input address beyond 2^(64-T0SZ) with F_TRANSLATION", () => {
    const log = withSmmu();
    fourLevels(log, 0x4_5678_9000n | S1_RW_EL0);
    expect(translate(log.state, 0, { sid: SID, iova: 1n << 48n, length: 1, write: false })).toMatchObject({
      fault: { id: 0x10 },
    });
  });

  it("does not record stage-1 faults when CD.R = 0", () => {
    const log = withSmmu();
    stage1(log, { r: false });
    ok(log, { type: "smmu.dma", data: { instance: 0, sid: SID, iova: IOVA, length: 1, write: false } });
    expect(evtq(log)).toEqual([]);
  });
});

describe("configuration errors", () => {
  it("C_BAD_STREAMID beyond IDR1.SIDSIZE, C_BAD_STE for an invalid STE, nothing for an abort STE", () => {
    const log = withSmmu();
    ok(log, { type: "smmu.dma", data: { instance: 0, sid: 0x1_0000, iova: 0n, length: 1, write: false } });
    ok(log, { type: "smmu.dma", data: { instance: 0, sid: 5, iova: 0n, length: 1, write: false } });
    ok(log, {
      type: "smmu.ste.write",
      data: { instance: 0, sid: 6, ste: encodeSte({ v: true, config: STE_CFG.ABORT }) },
    });
    ok(log, { type: "smmu.dma", data: { instance: 0, sid: 6, iova: 0n, length: 1, write: false } });
    expect(evtq(log)).toEqual([
      [0x0001_0000_0000_0002n, 0n, 0n, 0n],
      [0x0000_0005_0000_0004n, 0n, 0n, 0n],
    ]);
  });

  it("a reserved Config aborts silently (§5.2: behaves as 0b000); C_BAD_CD, C_BAD_SUBSTREAMID, F_STREAM_DISABLED", () => {
    const log = withSmmu();
    ok(log, {
      type: "smmu.ste.write",
      data: { instance: 0, sid: 1, ste: encodeSte({ v: true, config: 0b010 }) },
    });
    const cdt = alloc(log);
    ok(log, {
      type: "smmu.ste.write",
      data: {
        instance: 0,
        sid: 2,
        ste: encodeSte({ v: true, config: STE_CFG.S1_TRANS, s1ContextPtr: cdt, s1cdmax: 2, s1dss: 0 }),
      },
    });
    const dma = (sid: number, ssid?: number) =>
      ok(log, {
        type: "smmu.dma",
        data: {
          instance: 0,
          sid,
          iova: 0n,
          length: 1,
          write: false,
          ...(ssid === undefined ? {} : { ssid }),
        },
      });
    dma(1);
    dma(2, 1); // CD 1 is all zero: V = 0
    dma(2, 4); // beyond S1CDMax = 2 (4 CDs)
    dma(2); // no SSID, S1DSS = terminate
    expect(evtq(log).map((r) => r[0])).toEqual([
      0x0000_0002_0000_180an,
      0x0000_0002_0000_4808n,
      0x0000_0002_0000_0006n,
    ]);
  });

  it("bypass STEs pass addresses through", () => {
    const log = withSmmu();
    ok(log, {
      type: "smmu.ste.write",
      data: { instance: 0, sid: 3, ste: encodeSte({ v: true, config: STE_CFG.BYPASS }) },
    });
    expect(translate(log.state, 0, { sid: 3, iova: 0x1234_5678n, length: 8, write: false })).toMatchObject({
      runs: [{ pa: 0x1234_5678, length: 8 }],
    });
  });
});

/** Stage-2 attributes: AF | SH | S2AP read (bit 6) | write (bit 7) | MemAttr 0xf<<2 | page. */
const S2_RW = 0x7ffn;
const S2_RO = 0x77fn;

describe("stage 2", () => {
  it("walks from S2SL0 = 1 (level 1) with S2T0SZ = 25, and concatenates 2 tables with S2T0SZ = 24", () => {
    const log = withSmmu();
    const [l1, l2, l3] = [alloc(log, 8192), alloc(log), alloc(log)];
    const ste = (t0sz: number) =>
      encodeSte({
        v: true,
        config: STE_CFG.S2_TRANS,
        s2vmid: 9,
        s2t0sz: t0sz,
        s2sl0: 1,
        s2tg: 0,
        s2ps: 5,
        s2aa64: true,
        s2r: true,
        s2ttb: l1,
      });
    ok(log, { type: "smmu.ste.write", data: { instance: 0, sid: 4, ste: ste(25) } });
    // IPA 0x40_2030_1abc: L1 index 1, L2 index 1, L3 index 0x101... use 0x4020_1abc: L1 1, L2 1, L3 1
    put64(log, l1 + 8, BigInt(l2) | 3n);
    put64(log, l2 + 8, BigInt(l3) | 3n);
    put64(log, l3 + 8, 0x9_0000_0000n | S2_RW);
    expect(translate(log.state, 0, { sid: 4, iova: 0x4020_1abcn, length: 1, write: true })).toMatchObject({
      runs: [{ pa: 0x9_0000_0abc }],
    });
    // 40-bit IPA from level 1: 10 index bits, the second 4 KiB table holds indices 512..1023.
    ok(log, { type: "smmu.ste.write", data: { instance: 0, sid: 5, ste: ste(24) } });
    put64(log, l1 + 513 * 8, 0x7_4000_0000n | (S2_RW & ~2n)); // 1 GiB block at index 513
    expect(
      translate(log.state, 0, { sid: 5, iova: (1n << 39n) + (1n << 30n) + 0x42n, length: 1, write: false }),
    ).toMatchObject({
      runs: [{ pa: 0x7_4000_0042 }],
    });
  });

  it("reports stage-2 faults with S2 = 1 and the IPA (when STE.S2R)", () => {
    const log = withSmmu();
    const l1 = alloc(log);
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
          s2r: true,
          s2ttb: l1,
        }),
      },
    });
    put64(log, l1, 0x4000_0000n | (S2_RO & ~2n)); // 1 GiB read-only block at IPA 0
    ok(log, {
      type: "smmu.dma",
      data: { instance: 0, sid: 4, iova: 0x5000n, length: 1, write: true, bytes: new Uint8Array(1) },
    });
    // F_PERMISSION | SID 4; S2 1<<39 | CLASS IN 2<<40; InputAddr; IPA
    expect(evtq(log)).toEqual([[0x0000_0004_0000_0013n, 0x0000_0280_0000_0000n, 0x5000n, 0x5000n]]);
  });

  it("C_BAD_STE for illegal stage-2 configurations (S2AA64 = 0, S2TG reserved, SL0 inconsistent with T0SZ)", () => {
    const log = withSmmu();
    const base = {
      v: true,
      config: STE_CFG.S2_TRANS,
      s2t0sz: 25,
      s2sl0: 1,
      s2ps: 5,
      s2aa64: true,
      s2ttb: 0x10_0010_0000,
    };
    const bad = [{ s2aa64: false }, { s2tg: 3 }, { s2sl0: 2 }, { s2t0sz: 12 }];
    for (const [k, b] of bad.entries())
      ok(log, {
        type: "smmu.ste.write",
        data: { instance: 0, sid: 20 + k, ste: encodeSte({ ...base, ...b }) },
      });
    for (let k = 0; k < bad.length; k++)
      expect(translate(log.state, 0, { sid: 20 + k, iova: 0n, length: 1, write: false })).toMatchObject({
        fault: { id: 0x04 },
      });
  });
});

describe("nested (stage-1 tables and CDs in guest memory, translated by stage 2)", () => {
  /**
   * Guest: CD table at IPA 0x1000, stage-1 tables at IPA 0x2000.. (3 levels
   * from T0SZ = 25 → start level 1), data page at IPA 0x8000. Host stage 2
   * maps IPA [0, 2 MiB) to PA 0x4000_0000 with one block.
   */
  function nested(log: Log, s2Map = true) {
    const s2l1 = alloc(log);
    const s2l2 = alloc(log);
    put64(log, s2l1, BigInt(s2l2) | 3n);
    if (s2Map) put64(log, s2l2, 0x4000_0000n | (S2_RW & ~2n)); // 2 MiB block, IPA 0 → PA 0x4000_0000
    const G = 0x4000_0000; // PA of IPA 0
    ramWords(
      log,
      G + 0x1000,
      encodeCd({ t0sz: 25, v: true, ips: 5, aa64: true, r: true, asid: 3, ttb0: 0x2000 }),
    );
    ram64(log, G + 0x2000 + 0 * 8, 0x3000n | 3n); // L1[0] → L2 at IPA 0x3000
    ram64(log, G + 0x3000 + 0 * 8, 0x4000n | 3n); // L2[0] → L3 at IPA 0x4000
    ram64(log, G + 0x4000 + 5 * 8, 0x8000n | S1_RW_EL0); // L3[5]: IOVA 0x5000 → IPA 0x8000
    ramBytes(log, G + 0x8000 + 0x10, new Uint8Array([0xca, 0xfe]));
    ok(log, {
      type: "smmu.ste.write",
      data: {
        instance: 0,
        sid: 8,
        ste: encodeSte({
          v: true,
          config: STE_CFG.NESTED,
          s1ContextPtr: 0x1000,
          eats: EATS.ABT,
          s2vmid: 2,
          s2t0sz: 25,
          s2sl0: 1,
          s2ps: 5,
          s2aa64: true,
          s2r: true,
          s2ttb: s2l1,
        }),
      },
    });
  }

  it("fetches the CD and every stage-1 table through stage 2, then translates the output IPA", () => {
    const log = withSmmu();
    nested(log);
    expect(dmaRead(log.state, 0, { sid: 8, iova: 0x5010n, length: 2 })).toEqual(new Uint8Array([0xca, 0xfe]));
    const ev = ok(log, {
      type: "smmu.dma",
      data: { instance: 0, sid: 8, iova: 0x5010n, length: 2, write: false },
    });
    // One combined entry, tagged (VMID 2, ASID 3) = 2·2^16 + 3, leaf size min(4 KiB, 2 MiB)
    expect(ev.find((e) => e.type === "smmu.tlb.filled")!.data).toMatchObject({
      tag: 0x2_0003,
      base: 0x5000n,
      log2size: 12,
      pa: 0x4000_8000n,
      ipa: 0x8000n,
    });
  });

  it("reports a stage-2 fault on a stage-1 table fetch as S2 = 1, CLASS = TT, with the table's IPA", () => {
    const log = withSmmu();
    nested(log);
    ram64(log, 0x4000_0000 + 0x3000, 0x30_0000n | 3n); // L2[0] → L3 at IPA 3 MiB: outside stage 2
    ok(log, { type: "smmu.dma", data: { instance: 0, sid: 8, iova: 0x5010n, length: 1, write: false } });
    // F_TRANSLATION | SID 8; RnW | S2 | CLASS TT (1); InputAddr 0x5010; IPA of L3[5] = 0x30_0028 → bits 51:12
    expect(evtq(log)).toEqual([[0x0000_0008_0000_0010n, 0x0000_0188_0000_0000n, 0x5010n, 0x30_0000n]]);
  });

  it("reports a stage-2 fault on the CD fetch as CLASS = CD", () => {
    const log = withSmmu();
    nested(log, false);
    ok(log, { type: "smmu.dma", data: { instance: 0, sid: 8, iova: 0x5010n, length: 1, write: false } });
    // CLASS CD = 0: S2 1<<39 | RnW 1<<35
    expect(evtq(log)[0]!.slice(0, 2)).toEqual([0x0000_0008_0000_0010n, 0x0000_0088_0000_0000n]);
  });
});

describe("other granules (CD.TG0)", () => {
  /** A 64 KiB-aligned table of `bytes` in table memory. */
  function aligned(log: Log, bytes: number, align: number): number {
    const pa = alloc(log, bytes + align);
    return Math.ceil(pa / align) * align;
  }

  it("64 KiB granule, T0SZ 16: start level 1 (6 bits), then 13 bits per level; OA bits 47:16", () => {
    const log = withSmmu();
    const [l1, l2, l3, cdt] = [
      aligned(log, 0x1_0000, 0x1_0000),
      aligned(log, 0x1_0000, 0x1_0000),
      aligned(log, 0x1_0000, 0x1_0000),
      alloc(log),
    ];
    putWords(
      log,
      cdt,
      encodeCd({ t0sz: 16, tg0: 1, v: true, ips: 5, aa64: true, r: true, asid: 2, ttb0: l1 }),
    );
    ok(log, {
      type: "smmu.ste.write",
      data: {
        instance: 0,
        sid: SID,
        ste: encodeSte({ v: true, config: STE_CFG.S1_TRANS, s1ContextPtr: cdt }),
      },
    });
    // IOVA = 1 << 42 | 2 << 29 | 3 << 16 | 0x1234: L1 index 1, L2 index 2, L3 index 3
    put64(log, l1 + 1 * 8, BigInt(l2) | 3n);
    put64(log, l2 + 2 * 8, BigInt(l3) | 3n);
    put64(log, l3 + 3 * 8, 0x5_0000_0000n | S1_RW_EL0);
    const iova = (1n << 42n) | (2n << 29n) | (3n << 16n) | 0x1234n;
    expect(translate(log.state, 0, { sid: SID, iova, length: 1, write: false })).toMatchObject({
      runs: [{ pa: 0x5_0000_1234 }],
    });
    // A 512 MiB block at level 2 (64 KiB granule: blocks only at level 2)
    put64(log, l2 + 4 * 8, 0x6000_0000n | 0x741n);
    expect(
      translate(log.state, 0, {
        sid: SID,
        iova: (1n << 42n) | (4n << 29n) | 0x123_4567n,
        length: 1,
        write: false,
      }),
    ).toMatchObject({
      runs: [{ pa: 0x6123_4567 }],
    });
  });

  it("16 KiB granule, T0SZ 17: start level 1 (36 − 25 = 11 bits), 11 bits per level", () => {
    const log = withSmmu();
    const [l1, l2, l3, cdt] = [
      aligned(log, 0x4000, 0x4000),
      aligned(log, 0x4000, 0x4000),
      aligned(log, 0x4000, 0x4000),
      alloc(log),
    ];
    putWords(
      log,
      cdt,
      encodeCd({ t0sz: 17, tg0: 2, v: true, ips: 5, aa64: true, r: true, asid: 2, ttb0: l1 }),
    );
    ok(log, {
      type: "smmu.ste.write",
      data: {
        instance: 0,
        sid: SID,
        ste: encodeSte({ v: true, config: STE_CFG.S1_TRANS, s1ContextPtr: cdt }),
      },
    });
    // IOVA = 5 << 36 | 6 << 25 | 7 << 14 | 0x2345
    put64(log, l1 + 5 * 8, BigInt(l2) | 3n);
    put64(log, l2 + 6 * 8, BigInt(l3) | 3n);
    put64(log, l3 + 7 * 8, 0x7_0000_4000n | S1_RW_EL0);
    const iova = (5n << 36n) | (6n << 25n) | (7n << 14n) | 0x2345n;
    expect(translate(log.state, 0, { sid: SID, iova, length: 1, write: false })).toMatchObject({
      runs: [{ pa: 0x7_0000_6345 }],
    });
  });
});

describe("limits", () => {
  it("smmu.dma rejects input addresses at or above 2^52 (EINVAL)", () => {
    const log = withSmmu();
    expect(
      log.dispatch({
        type: "smmu.dma",
        data: { instance: 0, sid: 1, iova: (1n << 52n) - 1n, length: 2, write: false },
      }),
    ).toMatchObject({
      name: "EINVAL",
    });
  });

  it("reports the software MSI window Linux reserves (MSI_IOVA_BASE 0x8000000, 1 MiB)", () => {
    expect(reservedRegions()).toEqual([{ start: 0x800_0000n, length: 0x10_0000n, type: 4 }]);
  });
});

describe("table formats", () => {
  it("a linear stream table (IDR0.ST_LEVEL = 0, SIDSIZE 8): 256 STEs, C_BAD_STREAMID beyond", () => {
    // IDR0: S1P | S2P | TTF AArch64 | ATS | ASID16 | PRI | VMID16 | CD2L | TTENDIAN LE | STALL_MODEL 1 (no ST_LEVEL)
    const idr0 =
      0x3 | (2 << 2) | (1 << 10) | (1 << 12) | (1 << 16) | (1 << 18) | (1 << 19) | (2 << 21) | (1 << 24);
    const idr1 = 8 | (20 << 6) | (8 << 11) | (8 << 16) | (8 << 21);
    const log = withSmmu({ idr: [idr0, idr1, 0, 1 << 10, 0, 0x75] });
    expect(log.state.smmu.instances.get(0)!.strtab).toEqual({
      base: 0x10_0000_0000,
      fmt: 0,
      log2size: 8,
      split: 0,
    });
    ok(log, {
      type: "smmu.ste.write",
      data: { instance: 0, sid: 255, ste: encodeSte({ v: true, config: STE_CFG.BYPASS }) },
    });
    // Linear: STE 255 at base + 255 × 64
    expect(log.state.smmu.instances.get(0)!.mem.readU64(0x10_0000_0000 + 255 * 64)).toBe(0x9n);
    expect(translate(log.state, 0, { sid: 255, iova: 0x42n, length: 1, write: false })).toMatchObject({
      ok: true,
    });
    expect(translate(log.state, 0, { sid: 256, iova: 0x42n, length: 1, write: false })).toMatchObject({
      fault: { id: 0x02 },
    });
  });

  it("a 2-level CD table with 4 KiB leaves (S1Fmt 1: 64 CDs per leaf), and an invalid L1CD → C_BAD_SUBSTREAMID", () => {
    const log = withSmmu();
    const [l1cd, leaf, l0, l1, l2, l3] = [
      alloc(log),
      alloc(log),
      alloc(log),
      alloc(log),
      alloc(log),
      alloc(log),
    ];
    ok(log, {
      type: "smmu.ste.write",
      data: {
        instance: 0,
        sid: 3,
        ste: encodeSte({
          v: true,
          config: STE_CFG.S1_TRANS,
          s1fmt: 1,
          s1ContextPtr: l1cd,
          s1cdmax: 8,
          s1dss: 2,
        }),
      },
    });
    // SSID 0x47 = L1 index 1, leaf index 7. L1CD: L2Ptr (bits 51:12) | V
    put64(log, l1cd + 1 * 8, BigInt(leaf) | 1n);
    putWords(
      log,
      leaf + 7 * 64,
      encodeCd({ t0sz: 16, v: true, ips: 5, aa64: true, r: true, asid: 9, ttb0: l0 }),
    );
    put64(log, l0, BigInt(l1) | 3n);
    put64(log, l1, BigInt(l2) | 3n);
    put64(log, l2, BigInt(l3) | 3n);
    put64(log, l3, 0x7_7000n | S1_RW_EL0);
    expect(
      translate(log.state, 0, { sid: 3, ssid: 0x47, iova: 0x12n, length: 1, write: false }),
    ).toMatchObject({
      runs: [{ pa: 0x7_7012 }],
    });
    expect(
      translate(log.state, 0, { sid: 3, ssid: 0x87, iova: 0x12n, length: 1, write: false }),
    ).toMatchObject({
      fault: { id: 0x08, ssid: 0x87 },
    });
  });
});
