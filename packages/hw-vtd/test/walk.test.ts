/**
 * Golden page walks over tables written by hand (entry by entry, with the
 * spec's formats) into table memory and RAM: a 4-level second-stage walk of
 * a known table to a known PA, 2 MiB / 1 GiB leaves, a first-stage walk, a
 * nested walk, and the fault reason of each failure.
 *
 * Indices are the address bits 47:39, 38:30, 29:21, 20:12 (VT-d §3.6–3.7,
 * x86-64 paging), worked out by hand in the comments.
 */
import { FrameStore } from "@iommu-sim/eventlog";
import { beforeEach, describe, expect, it } from "vitest";
import {
  DEFAULT_UNIT_CONFIG,
  FL,
  FL_XD_HI,
  FR,
  flEntry,
  type Mem,
  memOf,
  newUnit,
  PERM,
  SL,
  WALK,
  walkFirstStage,
  walkSecondStage,
} from "../src/index";

const T = 0x10_0000_0000; // unit 0 table memory (shared contract)
const unit0 = newUnit(0, DEFAULT_UNIT_CONFIG, 8);

let tables: FrameStore;
let ram: FrameStore;
const mem = (): Mem => memOf({ ...unit0, tables }, ram);
const put = (pa: number, v: bigint) => {
  if (pa >= T) tables = tables.writeU64(pa, v);
  else ram = ram.writeU64(pa, v);
};
const RW = SL.R | SL.W;
const vpnOf = (iova: number) => Math.floor(iova / 4096);

beforeEach(() => {
  tables = FrameStore.empty();
  ram = FrameStore.empty();
});

describe("second-stage walk (VT-d §3.7, §9.8)", () => {
  // iova 0x1234_5678_9abc: L4 index 0x24, L3 0xd1, L2 0xb3, L1 0x189, offset 0xabc.
  const iova = 0x1234_5678_9abc;
  const sl = { pgd: T + 0xa000, agaw: 2, sllps: 0b11 };

  function fourLevel(leaf: bigint): void {
    put(T + 0xa000 + 0x24 * 8, BigInt(T + 0xb000) | BigInt(RW));
    put(T + 0xb000 + 0xd1 * 8, BigInt(T + 0xc000) | BigInt(RW));
    put(T + 0xc000 + 0xb3 * 8, BigInt(T + 0xd000) | BigInt(RW));
    put(T + 0xd000 + 0x189 * 8, leaf);
  }

  it("walks 4 levels of a known table to a known PA", () => {
    fourLevel(0x4242_4000n | BigInt(RW));
    expect(walkSecondStage(mem(), sl, vpnOf(iova))).toBe(0);
    expect(WALK.pfn * 4096 + (iova % 4096)).toBe(0x4242_4abc);
    expect(WALK.sizeIdx).toBe(0);
    expect(WALK.perm & (PERM.READ | PERM.WRITE)).toBe(PERM.READ | PERM.WRITE);
  });

  it("ANDs R/W over the levels: a read-only leaf or a read-only directory denies writes", () => {
    fourLevel(0x4242_4000n | BigInt(SL.R));
    walkSecondStage(mem(), sl, vpnOf(iova));
    expect(WALK.perm & PERM.WRITE).toBe(0);
    fourLevel(0x4242_4000n | BigInt(RW));
    put(T + 0xb000 + 0xd1 * 8, BigInt(T + 0xc000) | BigInt(SL.R));
    walkSecondStage(mem(), sl, vpnOf(iova));
    expect(WALK.perm & PERM.WRITE).toBe(0);
    expect(WALK.perm & PERM.READ).toBe(PERM.READ);
  });

  it("maps a 2 MiB leaf (PS at level 2) and a 1 GiB leaf (PS at level 3)", () => {
    put(T + 0xa000 + 0x24 * 8, BigInt(T + 0xb000) | BigInt(RW));
    put(T + 0xb000 + 0xd1 * 8, BigInt(T + 0xc000) | BigInt(RW));
    put(T + 0xc000 + 0xb3 * 8, 0x4_0020_0000n | BigInt(RW | SL.PS));
    expect(walkSecondStage(mem(), sl, vpnOf(iova))).toBe(0);
    // 2 MiB page offset = iova bits 20:0 = 0x18_9abc
    expect(WALK.pfn * 4096 + (iova % 4096)).toBe(0x4_0038_9abc);
    expect(WALK.sizeIdx).toBe(1);

    put(T + 0xb000 + 0xd1 * 8, 0x80_4000_0000n | BigInt(SL.R | SL.PS));
    expect(walkSecondStage(mem(), sl, vpnOf(iova))).toBe(0);
    // 1 GiB page offset = iova bits 29:0 = 0x1678_9abc
    expect(WALK.pfn * 4096 + (iova % 4096)).toBe(0x80_5678_9abc);
    expect(WALK.sizeIdx).toBe(2);
    expect(WALK.perm & PERM.WRITE).toBe(0);
  });

  it("faults: not present 0x79, PS where SLLPS lacks it 0x7A, beyond AW 0x83", () => {
    expect(walkSecondStage(mem(), sl, vpnOf(iova))).toBe(FR.SS_ENTRY_P);
    put(T + 0xa000 + 0x24 * 8, BigInt(T + 0xb000) | BigInt(RW));
    put(T + 0xb000 + 0xd1 * 8, 0x80_4000_0000n | BigInt(RW | SL.PS));
    expect(walkSecondStage(mem(), { ...sl, sllps: 0b01 }, vpnOf(iova))).toBe(FR.SS_ENTRY_RSVD);
    put(T + 0xa000 + 0x24 * 8, 0x80_0000_0000n | BigInt(RW | SL.PS)); // PS at level 4: reserved
    expect(walkSecondStage(mem(), sl, vpnOf(iova))).toBe(FR.SS_ENTRY_RSVD);
    // 2^48 is beyond a 4-level (48-bit) second stage.
    expect(walkSecondStage(mem(), sl, 2 ** 36)).toBe(FR.ADDR_BEYOND_AW);
  });

  it("walks 5 levels with AW = 3", () => {
    // iova 0x1234_5678_9abc has bits 56:48 = 0: L5 index 0.
    put(T + 0x9000, BigInt(T + 0xa000) | BigInt(RW));
    fourLevel(0x4242_4000n | BigInt(RW));
    expect(walkSecondStage(mem(), { ...sl, pgd: T + 0x9000, agaw: 3 }, vpnOf(iova))).toBe(0);
    expect(WALK.pfn).toBe(0x4_2424);
  });
});

describe("first-stage walk (VT-d §3.6, §9.7: x86-64 format)", () => {
  // iova 0x7f12_3456_7abc: PML4 index 0xfe, PDPT 0x48, PD 0x1a2, PT 0x167, offset 0xabc.
  const iova = 0x7f12_3456_7abc;
  const fl = { flptr: 0x1000, levels: 4, fl1gp: true };
  const dir = FL.P | FL.RW | FL.US;

  function tables4(leaf: bigint): void {
    put(0x1000 + 0xfe * 8, flEntry(2, dir));
    put(0x2000 + 0x48 * 8, flEntry(3, dir));
    put(0x3000 + 0x1a2 * 8, flEntry(4, dir));
    put(0x4000 + 0x167 * 8, leaf);
  }

  it("walks a user mapping to a known PA, with U/S, R/W and XD", () => {
    tables4(flEntry(0x5_5555, FL.P | FL.RW | FL.US));
    expect(walkFirstStage(mem(), fl, vpnOf(iova))).toBe(0);
    expect(WALK.pfn * 4096 + (iova % 4096)).toBe(0x5555_5abc);
    expect(WALK.perm & (PERM.WRITE | PERM.USER | PERM.EXEC)).toBe(PERM.WRITE | PERM.USER | PERM.EXEC);
    tables4(flEntry(0x5_5555, FL.P, true));
    walkFirstStage(mem(), fl, vpnOf(iova));
    expect(WALK.perm & (PERM.WRITE | PERM.USER | PERM.EXEC)).toBe(0);
    expect(FL_XD_HI).toBe(0x8000_0000);
  });

  it("maps a 2 MiB page whose bit 12 is PAT, and a 1 GiB page only with FL1GP", () => {
    put(0x1000 + 0xfe * 8, flEntry(2, dir));
    put(0x2000 + 0x48 * 8, flEntry(3, dir));
    put(0x3000 + 0x1a2 * 8, 0x6000_0000n | 0x1000n | BigInt(dir | FL.PS)); // PAT set
    expect(walkFirstStage(mem(), fl, vpnOf(iova))).toBe(0);
    // 2 MiB offset = iova bits 20:0 = 0x16_7abc
    expect(WALK.pfn * 4096 + (iova % 4096)).toBe(0x6016_7abc);
    put(0x2000 + 0x48 * 8, 0x1_8000_0000n | BigInt(dir | FL.PS));
    expect(walkFirstStage(mem(), fl, vpnOf(iova))).toBe(0);
    // 1 GiB offset = iova bits 29:0 = 0x3456_7abc
    expect(WALK.pfn * 4096 + (iova % 4096)).toBe(0x1_b456_7abc);
    expect(walkFirstStage(mem(), { ...fl, fl1gp: false }, vpnOf(iova))).toBe(FR.FS_ENTRY_RSVD);
  });

  it("faults: not present 0x71, non-canonical 0x80, PS in a PML4 entry 0x72", () => {
    expect(walkFirstStage(mem(), fl, vpnOf(iova))).toBe(FR.FS_ENTRY_P);
    expect(walkFirstStage(mem(), fl, 2 ** 35)).toBe(FR.NON_CANONICAL); // 0x8000_0000_0000
    put(0x1000 + 0xfe * 8, flEntry(2, dir | FL.PS));
    expect(walkFirstStage(mem(), fl, vpnOf(iova))).toBe(FR.FS_ENTRY_RSVD);
  });

  it("accepts the upper canonical half (0xffff_8000_0000_0000 → PML4 index 0x100)", () => {
    put(0x1000 + 0x100 * 8, flEntry(2, dir));
    put(0x2000, flEntry(3, dir));
    put(0x3000, flEntry(4, dir));
    put(0x4000, flEntry(0x7_7777, FL.P | FL.RW));
    expect(walkFirstStage(mem(), fl, 2 ** 52 - 2 ** 35)).toBe(0);
    expect(WALK.pfn).toBe(0x7_7777);
  });
});

describe("nested walk (VT-d §3.8)", () => {
  // First stage in guest-physical space: tables at GPA 0x1000..0x4000, leaf GPA 0x20_0000 (+ offset).
  // Second stage (table memory) maps GPA page 0x1..0x4 → HPA 0x9_1000..0x9_4000 (RAM) and GPA 0x20_0000 as a 2 MiB page → HPA 0x4000_0000.
  const iova = 0x7f12_3456_7abc;
  const sl = { pgd: T + 0xa000, agaw: 2, sllps: 0b11 };
  const fl = { flptr: 0x1000, levels: 4, fl1gp: true, nest: sl };
  const dir = FL.P | FL.RW | FL.US;

  beforeEach(() => {
    put(T + 0xa000, BigInt(T + 0xb000) | BigInt(RW)); // GPA L4 index 0
    put(T + 0xb000, BigInt(T + 0xc000) | BigInt(RW)); // L3 index 0
    put(T + 0xc000, BigInt(T + 0xd000) | BigInt(RW)); // L2 index 0 → 4 KiB table
    put(T + 0xc000 + 8, 0x4000_0000n | BigInt(RW | SL.PS)); // L2 index 1: GPA 0x20_0000 2 MiB
    for (let g = 1; g <= 4; g++) put(T + 0xd000 + g * 8, BigInt(0x9_0000 + g * 0x1000) | BigInt(RW));
    // The guest's first-stage tables, at their host addresses.
    put(0x9_1000 + 0xfe * 8, flEntry(2, dir));
    put(0x9_2000 + 0x48 * 8, flEntry(3, dir));
    put(0x9_3000 + 0x1a2 * 8, flEntry(4, dir));
    put(0x9_4000 + 0x167 * 8, flEntry(0x200, FL.P | FL.RW | FL.US)); // GPA 0x20_0000
  });

  it("translates every first-stage table access and the final GPA through the second stage", () => {
    expect(walkFirstStage(mem(), fl, vpnOf(iova))).toBe(0);
    expect(WALK.pfn * 4096 + (iova % 4096)).toBe(0x4000_0abc);
    expect(WALK.sizeIdx).toBe(0); // min(4 KiB first stage, 2 MiB second stage)
    expect(WALK.perm & (PERM.READ | PERM.WRITE | PERM.USER)).toBe(PERM.READ | PERM.WRITE | PERM.USER);
  });

  it("combines permissions: a read-only second stage denies writes", () => {
    put(T + 0xc000 + 8, 0x4000_0000n | BigInt(SL.R | SL.PS));
    walkFirstStage(mem(), fl, vpnOf(iova));
    expect(WALK.perm & PERM.WRITE).toBe(0);
    expect(WALK.perm & PERM.SL_WRITE).toBe(0);
  });

  it("faults: a first-stage table page unmapped in the second stage 0x79, not readable 0x76, final GPA unmapped 0x79", () => {
    put(T + 0xd000 + 3 * 8, 0n);
    expect(walkFirstStage(mem(), fl, vpnOf(iova))).toBe(FR.SS_ENTRY_P);
    put(T + 0xd000 + 3 * 8, 0x9_3000n | BigInt(SL.W));
    expect(walkFirstStage(mem(), fl, vpnOf(iova))).toBe(FR.FS_ENTRY_READ_NESTED);
    put(T + 0xd000 + 3 * 8, 0x9_3000n | BigInt(RW));
    put(T + 0xc000 + 8, 0n);
    expect(walkFirstStage(mem(), fl, vpnOf(iova))).toBe(FR.SS_ENTRY_P);
  });

  it("reports a first-stage table GPA beyond the second stage's width as 0x74", () => {
    put(0x9_1000 + 0xfe * 8, 0x1_0000_0000_0000n | BigInt(dir)); // GPA 2^48
    expect(walkFirstStage(mem(), fl, vpnOf(iova))).toBe(FR.FS_ADDR_BEYOND_MGAW_NESTED);
  });
});
