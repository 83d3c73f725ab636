/**
 * Golden tests of the spec's formats. Every expected word below is written
 * by hand from the bit positions in Arm IHI 0070 (§5.2 STE, §5.4 CD, §4
 * commands, §7.3 event records, §8 PRI records) as transcribed in Linux
 * arm-smmu-v3.h — never produced by the code under test.
 */
import { iommuHwInfoArmSmmuv3 } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  cmd,
  decodeCd,
  decodeCmd,
  decodeEvent,
  decodeFeatures,
  decodePageRequest,
  decodeSte,
  defaultIdRegs,
  EATS,
  EVT,
  encodeCd,
  encodeEvent,
  encodePageRequest,
  encodeSte,
  hwInfoBytes,
  PRI_RESP,
  STE_CFG,
} from "../src/index";

describe("STE (IHI 0070 §5.2)", () => {
  it("encodes a stage-2 STE word by word", () => {
    const w = encodeSte({
      v: true,
      config: STE_CFG.S2_TRANS,
      eats: EATS.TRANS,
      s2vmid: 5,
      s2t0sz: 16,
      s2sl0: 2,
      s2ir0: 1,
      s2or0: 1,
      s2sh0: 3,
      s2tg: 0,
      s2ps: 5,
      s2aa64: true,
      s2ptw: true,
      s2r: true,
      s2ttb: 0x10_0000_1000,
    });
    // word 0: V (bit 0) | Config 0b110 (bits 3:1) = 0xd
    expect(w[0]).toBe(0xdn);
    // word 1: EATS = 1 at bits 29:28
    expect(w[1]).toBe(0x1000_0000n);
    // word 2: VMID 5 | T0SZ 16<<32 | SL0 2<<38 | IR0 1<<40 | OR0 1<<42 | SH0 3<<44 | PS 5<<48 | AA64 1<<51 | PTW 1<<54 | S2R 1<<58
    expect(w[2]).toBe(0x044d_3590_0000_0005n);
    // word 3: S2TTB bits 51:4
    expect(w[3]).toBe(0x10_0000_1000n);
    expect(w.slice(4)).toEqual([0n, 0n, 0n, 0n]);
  });

  it("encodes a CD-table STE (S1ContextPtr, S1Fmt, S1CDMax, S1DSS, S1CIR/COR/CSH)", () => {
    const w = encodeSte({
      v: true,
      config: STE_CFG.S1_TRANS,
      s1fmt: 2,
      s1ContextPtr: 0x10_0040_0000,
      s1cdmax: 20,
      s1dss: 2,
      s1cir: 1,
      s1cor: 1,
      s1csh: 3,
    });
    // V | Config 0b101 << 1 = 0xb; S1Fmt 2 << 4 = 0x20; ptr; S1CDMax 20 << 59 = 0xa000_0000_0000_0000
    expect(w[0]).toBe(0xa000_0010_0040_002bn);
    // S1DSS 2 | S1CIR 1<<2 | S1COR 1<<4 | S1CSH 3<<6 = 0x2 + 0x4 + 0x10 + 0xc0
    expect(w[1]).toBe(0xd6n);
  });

  it("decodes what it encodes (any field values)", () => {
    fc.assert(
      fc.property(
        fc.record({
          v: fc.boolean(),
          config: fc.integer({ min: 0, max: 7 }),
          s1fmt: fc.integer({ min: 0, max: 3 }),
          s1ContextPtr: fc.integer({ min: 0, max: 2 ** 46 - 1 }).map((x) => x * 64),
          s1cdmax: fc.integer({ min: 0, max: 31 }),
          s1dss: fc.integer({ min: 0, max: 3 }),
          eats: fc.integer({ min: 0, max: 3 }),
          s2vmid: fc.integer({ min: 0, max: 0xffff }),
          s2t0sz: fc.integer({ min: 0, max: 63 }),
          s2sl0: fc.integer({ min: 0, max: 3 }),
          s2tg: fc.integer({ min: 0, max: 3 }),
          s2ps: fc.integer({ min: 0, max: 7 }),
          s2aa64: fc.boolean(),
          s2r: fc.boolean(),
          s2ttb: fc.integer({ min: 0, max: 2 ** 48 - 1 }).map((x) => x * 16),
        }),
        (f) => {
          const d = decodeSte(encodeSte(f));
          for (const [k, v] of Object.entries(f)) expect(d[k as keyof typeof d]).toBe(v);
        },
      ),
    );
  });
});

describe("CD (IHI 0070 §5.4)", () => {
  it("encodes Linux's stage-1 CD (arm_smmu_make_s1_cd) word by word", () => {
    const w = encodeCd({
      t0sz: 16,
      tg0: 0,
      ir0: 1,
      or0: 1,
      sh0: 3,
      epd1: true,
      v: true,
      ips: 5,
      aa64: true,
      r: true,
      a: true,
      aset: true,
      asid: 0x1234,
      ttb0: 0x10_0000_2000,
      mair: 0xf404ff44n,
    });
    // T0SZ 0x10 | IR0 0x100 | OR0 0x400 | SH0 0x3000 | EPD1 1<<30 | V 1<<31 ;
    // IPS 5<<32 | AA64 1<<41 | R 1<<45 | A 1<<46 | ASET 1<<47 ; ASID 0x1234<<48
    expect(w[0]).toBe(0x1234_e205_c000_3510n);
    expect(w[1]).toBe(0x10_0000_2000n);
    expect(w[2]).toBe(0n);
    expect(w[3]).toBe(0xf404ff44n);
    const d = decodeCd(w);
    expect([d.t0sz, d.asid, d.ttb0, d.v, d.aa64, d.epd0, d.epd1]).toEqual([
      16,
      0x1234,
      0x10_0000_2000,
      true,
      true,
      false,
      true,
    ]);
  });
});

describe("commands (IHI 0070 §4)", () => {
  const f = decodeFeatures(defaultIdRegs());

  it("encodes CMD_CFGI_STE, CFGI_CD, TLBI_NH_VA, TLBI_S2_IPA, ATC_INV, PRI_RESP, SYNC", () => {
    expect(cmd.cfgiSte(0x1234)).toEqual([0x0000_1234_0000_0003n, 1n]);
    expect(cmd.cfgiAll()).toEqual([0x4n, 31n]);
    expect(cmd.cfgiCd(0x10, 7)).toEqual([0x0000_0010_0000_7005n, 1n]);
    expect(cmd.tlbiNhVa(0, 5, 0x4000_1000n)).toEqual([0x0005_0000_0000_0012n, 0x4000_1001n]);
    expect(cmd.tlbiS2Ipa(3, 0x8000_0000n)).toEqual([0x0000_0003_0000_002an, 0x8000_0001n]);
    expect(cmd.atcInv(0x10, undefined, 0x20_0000n, 9)).toEqual([0x0000_0010_0000_0040n, 0x20_0009n]);
    // PRI_RESP: SSV bit 11 | SSID 7 << 12 | SID 0x100 << 32; GRPID 3 | Resp SUCC (2) << 12
    expect(cmd.priResp(0x100, 7, 3, PRI_RESP.SUCC)).toEqual([0x0000_0100_0000_7841n, 0x2003n]);
    // SYNC: CS = IRQ (1) << 12 | MSIData << 32; MSIAddr bits 51:2
    expect(cmd.sync(1, 0xdeadbeef, 0x8000_1000n)).toEqual([0xdead_beef_0000_1046n, 0x8000_1000n]);
  });

  it("decodes range TLBIs: (NUM+1) << SCALE granules", () => {
    // NUM = 3, SCALE = 1, TG = 1 (4 KiB): 8 pages = 32 KiB
    const c = decodeCmd(f, cmd.tlbiNhVa(0, 1, 0x10000n, true, { num: 3, scale: 1, tg: 1 }));
    expect(c).toMatchObject({ op: "tlbi_nh_va", asid: 1, addr: 0x10000n, range: 0x8000n });
  });

  it("rejects what the hardware rejects with CERROR_ILL", () => {
    expect(decodeCmd(f, [0x7fn, 0n])).toBeUndefined(); // unknown opcode
    expect(decodeCmd(f, [0x20n, 0n])).toBeUndefined(); // TLBI_EL2_ALL without IDR0.HYP
    expect(decodeCmd(f, [0x46n | (3n << 12n), 0n])).toBeUndefined(); // SYNC CS = 3 (reserved)
    expect(decodeCmd(f, [0x41n, 3n << 12n])).toBeUndefined(); // PRI_RESP Resp = 3 (reserved)
    expect(decodeCmd(f, [0x40n, 53n])).toBeUndefined(); // ATC_INV Size > 52
    const noRil = decodeFeatures({
      ...defaultIdRegs(),
      idr: [...defaultIdRegs().idr.slice(0, 3), 0, 0, defaultIdRegs().idr[5]] as never,
    });
    expect(decodeCmd(noRil, cmd.tlbiNhVa(0, 1, 0n, true, { num: 0, scale: 0, tg: 1 }))).toBeUndefined();
    expect(decodeCmd(f, cmd.sync())).toEqual({ op: "sync", cs: 0, msiData: 0, msiAddr: 0n });
  });
});

describe("event records (IHI 0070 §7.3)", () => {
  it("encodes F_TRANSLATION with SSID, RnW, CLASS = IN", () => {
    const w = encodeEvent({
      id: EVT.F_TRANSLATION,
      sid: 0x100,
      ssid: 3,
      rnw: true,
      pnu: false,
      s2: false,
      class: 2,
      inputAddr: 0x123_4000n,
    });
    // ID 0x10 | SSV 1<<11 | SSID 3<<12 | SID 0x100<<32; RnW 1<<35 | CLASS 2<<40
    expect(w).toEqual([0x0000_0100_0000_3810n, 0x0000_0208_0000_0000n, 0x123_4000n, 0n]);
  });

  it("encodes a stage-2 F_PERMISSION with the IPA, and the configuration errors", () => {
    const w = encodeEvent({
      id: EVT.F_PERMISSION,
      sid: 7,
      s2: true,
      class: 1,
      pnu: true,
      inputAddr: 0x5000n,
      ipa: 0x8_0000_1000n,
    });
    // S2 1<<39 | CLASS TT 1<<40 | PnU 1<<33
    expect(w).toEqual([0x0000_0007_0000_0013n, 0x0000_0182_0000_0000n, 0x5000n, 0x8_0000_1000n]);
    expect(encodeEvent({ id: EVT.C_BAD_STREAMID, sid: 0x1_0000 })).toEqual([
      0x0001_0000_0000_0002n,
      0n,
      0n,
      0n,
    ]);
    expect(encodeEvent({ id: EVT.C_BAD_STE, sid: 9 })[0]).toBe(0x9_0000_0004n);
    expect(encodeEvent({ id: EVT.F_STREAM_DISABLED, sid: 9 })[0]).toBe(0x9_0000_0006n);
    expect(encodeEvent({ id: EVT.C_BAD_SUBSTREAMID, sid: 9, ssid: 0x12 })[0]).toBe(0x9_0001_2808n);
    expect(encodeEvent({ id: EVT.C_BAD_CD, sid: 9, ssid: 1 })[0]).toBe(0x9_0000_180an);
    expect(decodeEvent(w)).toMatchObject({ id: 0x13, sid: 7, s2: true, class: 1, pnu: true, rnw: false });
  });

  it("encodes a PRI page request (IHI 0070 §8.1)", () => {
    const p = {
      sid: 0x100,
      ssid: 5,
      priv: false,
      exec: false,
      read: true,
      write: true,
      last: true,
      grpid: 1,
      addr: 0x7000n,
    };
    // SID | SSID 5<<32 | READ 1<<60 | WRITE 1<<61 | LAST 1<<62 | SSV 1<<63; PRG index 1 | address
    expect(encodePageRequest(p)).toEqual([0xf000_0005_0000_0100n, 0x7001n]);
    expect(decodePageRequest(encodePageRequest(p))).toEqual(p);
  });
});

describe("IOMMU_GET_HW_INFO (iommu_hw_info_arm_smmuv3)", () => {
  it("copies IDR0..5, IIDR and AIDR at the header's offsets", () => {
    const regs = { idr: [0x11, 0x22, 0x33, 0x44, 0x55, 0x66] as const, iidr: 0x4870043b, aidr: 2 };
    const b = hwInfoBytes({ ...regs, idr: [...regs.idr] as never });
    expect(b.length).toBe(40);
    const v = new DataView(b.buffer);
    // flags @0, __reserved @4, idr[6] @8, iidr @32, aidr @36 (include/uapi/linux/iommufd.h)
    expect([0, 4, 8, 12, 16, 20, 24, 28, 32, 36].map((o) => v.getUint32(o, true))).toEqual([
      0, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x4870043b, 2,
    ]);
    expect(iommuHwInfoArmSmmuv3.decode(b).iidr).toBe(0x4870043b);
  });
});
