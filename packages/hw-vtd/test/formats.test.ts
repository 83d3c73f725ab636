/**
 * Golden tests of the hardware formats: register fields, root/context/PASID
 * entries, invalidation and page-request descriptors. Expected words are
 * assembled by hand from the bit positions in the VT-d spec (rev 4.1 §9,
 * §6.5.2, §7.5.1, §11.4.2–3) and Linux's macros, never from this code.
 */
import { describe, expect, it } from "vitest";
import {
  CAP,
  capMgaw,
  capNumDomains,
  capNumFaultRegs,
  ccDesc,
  decodeContextEntry,
  decodeDescriptors,
  decodePageRequest,
  decodePasidEntry,
  decodeRootEntry,
  ECAP,
  EMPTY_PASID_ENTRY,
  encodeContextEntry,
  encodeDescriptors,
  encodePageRequest,
  encodePasidEntry,
  encodeRootEntry,
  iotlbDesc,
  pageGroupResponseDesc,
  pcDesc,
  piotlbDesc,
  regGet,
  waitDesc,
} from "../src/index";

describe("CAP_REG / ECAP_REG (VT-d §11.4.2–3)", () => {
  // A real client part's registers as Linux prints them at boot:
  // "DMAR: dmar0: reg_base_addr fed90000 ver 1:0 cap 1c0000c40660462 ecap 19e2ff0505e".
  const cap = 0x1c0000c40660462n;
  const ecap = 0x19e2ff0505en;

  it("decodes CAP fields at the spec's positions", () => {
    expect(regGet(cap, CAP.ND)).toBe(2);
    expect(capNumDomains(cap)).toBe(256);
    expect(regGet(cap, CAP.SAGAW)).toBe(0b00100); // 48-bit, 4-level only
    expect(capMgaw(cap)).toBe(39);
    expect(regGet(cap, CAP.FRO) * 16).toBe(0x400);
    expect(regGet(cap, CAP.SLLPS)).toBe(0b0011); // 2 MiB and 1 GiB
    expect(regGet(cap, CAP.PSI)).toBe(0);
    expect(capNumFaultRegs(cap)).toBe(1);
    expect(regGet(cap, CAP.DWD)).toBe(1);
    expect(regGet(cap, CAP.DRD)).toBe(1);
    expect(regGet(cap, CAP.FL1GP)).toBe(1);
  });

  it("decodes ECAP fields at the spec's positions", () => {
    expect(regGet(ecap, ECAP.QI)).toBe(1);
    expect(regGet(ecap, ECAP.DT)).toBe(1);
    expect(regGet(ecap, ECAP.PT)).toBe(1);
    expect(regGet(ecap, ECAP.SC)).toBe(0);
    expect(regGet(ecap, ECAP.IRO) * 16).toBe(0x500);
    expect(regGet(ecap, ECAP.MHMV)).toBe(15);
    expect(regGet(ecap, ECAP.PSS)).toBe(19);
    expect(regGet(ecap, ECAP.PASID)).toBe(1);
    expect(regGet(ecap, ECAP.SMTS)).toBe(0);
  });
});

describe("scalable-mode structures (VT-d §9.2, §9.4, §9.6)", () => {
  it("root entry: present bit 0, context-table pointer 63:12, lower/upper halves", () => {
    const [lo, hi] = encodeRootEntry({
      lowerPresent: true,
      lowerCtp: 0x1000_0000_5000,
      upperPresent: false,
      upperCtp: 0,
    });
    expect(lo).toBe(0x1000_0000_5001n);
    expect(hi).toBe(0n);
    expect(decodeRootEntry(0x7000n, 0x1000_0000_9001n)).toEqual({
      lowerPresent: false,
      lowerCtp: 0x7000,
      upperPresent: true,
      upperCtp: 0x1000_0000_9000,
    });
  });

  it("context entry: P, DTE, PASIDE, PRE, PDTS 11:9, PASIDDIRPTR, RID_PASID (Linux intel_pasid_setup_sm_context)", () => {
    const words = encodeContextEntry({
      present: true,
      fpd: false,
      dte: true,
      pasidEnable: true,
      pre: true,
      pdts: 7,
      pasidDirPtr: 0x1000_0020_0000,
      ridPasid: 0,
    });
    // 0x1000_0020_0000 | PDTS 7 << 9 (0xe00) | PRE 0x10 | PASIDE 0x8 | DTE 0x4 | P 0x1
    expect(words).toEqual([0x1000_0020_0e1dn, 0n, 0n, 0n]);
    const ce = decodeContextEntry(0x2000_0000_0a0bn, 0x0_0005n);
    expect(ce).toMatchObject({
      present: true,
      fpd: true,
      dte: false,
      pasidEnable: true,
      pre: false,
      pdts: 5,
    });
    expect(ce.pasidDirPtr).toBe(0x2000_0000_0000);
    expect(ce.ridPasid).toBe(5);
  });

  it("PASID entry, second-stage only (Linux pasid_pte_config_second_level)", () => {
    const words = encodePasidEntry({
      ...EMPTY_PASID_ENTRY,
      present: true,
      did: 5,
      slptptr: 0x1000_0000_3000,
      aw: 2,
      pgtt: 2,
      pwsnp: true,
      pgsnp: true,
    });
    // val[0] = SSPTPTR | PGTT 2 << 6 (0x80) | AW 2 << 2 (0x8) | P; val[1] = DID | PWSNP bit 23 | PGSNP bit 24
    expect(words.slice(0, 3)).toEqual([0x1000_0000_3089n, 0x180_0005n, 0n]);
  });

  it("PASID entry, nested (Linux pasid_pte_config_nestd)", () => {
    const words = encodePasidEntry({
      ...EMPTY_PASID_ENTRY,
      present: true,
      did: 9,
      slptptr: 0x1000_0000_4000,
      aw: 3,
      pgtt: 3,
      flptptr: 0x8000_2000,
      flpm: 1,
      sre: true,
      wpe: true,
      eafe: true,
    });
    // val[0] = 0x1000_0000_4000 | 3 << 6 (0xc0) | 3 << 2 (0xc) | 1; val[2] = FSPTPTR | EAFE 0x80 | WPE 0x10 | FLPM 1 << 2 | SRE
    expect(words.slice(0, 3)).toEqual([0x1000_0000_40cdn, 9n, 0x8000_2095n]);
    expect(decodePasidEntry(words[0]!, words[1]!, words[2]!)).toMatchObject({
      present: true,
      pgtt: 3,
      aw: 3,
      did: 9,
      flpm: 1,
      sre: true,
      wpe: true,
      eafe: true,
      flptptr: 0x8000_2000,
    });
  });
});

describe("invalidation descriptors (VT-d §6.5.2, Linux QI_* macros)", () => {
  it("IOTLB page-selective: type 2, G=3, DW, DR, DID; ADDR | AM", () => {
    expect(iotlbDesc(3, 3, 0x20_0000n, 9)).toEqual([0x3_00f2n, 0x20_0009n]);
  });

  it("PASID-based IOTLB: type 6, G, DID<<16, PASID<<32", () => {
    expect(piotlbDesc(3, 0x11, 0x55, 0x7000n, 1)).toEqual([0x55_0011_0036n, 0x7001n]);
  });

  it("PASID cache (type 7) and context cache (type 1)", () => {
    expect(pcDesc(1, 4, 0x12)).toEqual([0x12_0004_0017n, 0n]);
    expect(ccDesc(3, 0, 0x0310, 1)).toEqual([0x0001_0310_0000_0031n, 0n]);
  });

  it("invalidation wait: IF bit 4, SW bit 5, status data 63:32; status address", () => {
    expect(waitDesc({ statusAddr: 0x1234_5678n, statusData: 1, interrupt: true })).toEqual([
      0x1_0000_0035n,
      0x1234_5678n,
    ]);
  });

  it("page group response: type 9, PASID_P, code 15:12, RID 31:16, PASID; LPIG bit 2, index 11:3", () => {
    expect(pageGroupResponseDesc(0x0300, 5, 0, 7)).toEqual([0x7_0300_0019n, 0x2cn]);
    expect(pageGroupResponseDesc(0x0300, 5, 0xf)).toEqual([0x0300_f009n, 0x2cn]);
  });

  it("decodes 256-bit queue entries and rejects invalid ones (IQE → EINVAL)", () => {
    const raw = encodeDescriptors([iotlbDesc(1), waitDesc({})], 32);
    expect(raw.length).toBe(64);
    expect(decodeDescriptors(raw, 32)).toEqual([iotlbDesc(1), waitDesc({})]);
    const bad = raw.slice();
    bad[32] = 0x0f; // type 0xf: reserved
    expect(decodeDescriptors(bad, 32)).toMatchObject({ name: "EINVAL" });
    const upper = raw.slice();
    upper[16] = 1; // a 256-bit descriptor's upper half must be zero for these types
    expect(decodeDescriptors(upper, 32)).toMatchObject({ name: "EINVAL" });
    expect(decodeDescriptors(raw.subarray(0, 40), 32)).toMatchObject({ name: "EINVAL" });
  });
});

describe("page request descriptor (VT-d §7.5.1, Linux struct page_req_dsc)", () => {
  it("encodes type 1, PASID present bit 8, RID 31:16, PASID 51:32; R/W, LPIG, index 11:3, address", () => {
    const req = {
      rid: 0x0300,
      pasid: 7,
      addr: 0x7f00_0000_1000n,
      read: false,
      write: true,
      exec: false,
      privileged: true,
      lpig: true,
      index: 5,
    };
    const bytes = encodePageRequest(req);
    const v = new DataView(bytes.buffer);
    expect(v.getBigUint64(0, true)).toBe(0x20_0007_0300_0101n); // bit 53 = privileged
    expect(v.getBigUint64(8, true)).toBe(0x7f00_0000_102en);
    expect(v.getBigUint64(16, true)).toBe(0n);
    expect(decodePageRequest(bytes)).toEqual(req);
  });
});
