import { framesAvailable as smmuFramesAvailable } from "@iommu-sim/hw-smmu";
import { framesAvailable as vtdFramesAvailable } from "@iommu-sim/hw-vtd";
import { describe, expect, it } from "vitest";
import { createSystemLog, DEFAULT_PLATFORM, type Platform, parsePlatform, rid } from "../src/index";

const base = () => JSON.parse(JSON.stringify(DEFAULT_PLATFORM));

describe("platform descriptions", () => {
  it("accepts the default platform", () => {
    expect(parsePlatform(base())).toEqual(DEFAULT_PLATFORM);
  });

  it("encodes requester ids as bus << 8 | dev << 3 | fn (PCI)", () => {
    expect(rid(0x3a, 0x1f, 7)).toBe(0x3aff);
    expect(rid(0, 2, 0)).toBe(0x10);
  });

  it.each([
    ["an unknown member", (p: ReturnType<typeof base>) => (p.extra = 1), "extra"],
    ["a bad RID", (p: ReturnType<typeof base>) => (p.devices[1].rid = 0x10000), "devices.1.rid"],
    [
      "a device behind a missing unit",
      (p: ReturnType<typeof base>) => (p.devices[0].iommu = "vtd9"),
      "devices.0.iommu",
    ],
    [
      "a duplicate RID",
      (p: ReturnType<typeof base>) => (p.devices[1].rid = p.devices[0].rid),
      "devices.1.rid",
    ],
    [
      "RAM not a multiple of 4 KiB",
      (p: ReturnType<typeof base>) => (p.memoryBytes = "0x1001"),
      "memoryBytes",
    ],
    ["PRI without PASID", (p: ReturnType<typeof base>) => delete p.devices[0].pasidBits, "devices.0.pri"],
    ["a duplicate unit", (p: ReturnType<typeof base>) => (p.iommus[1].name = "vtd0"), "iommus.1.name"],
    [
      "table memory not a multiple of 4 KiB",
      (p: ReturnType<typeof base>) => (p.iommus[0].tableBytes = "0x1001"),
      "iommus.0.tableBytes",
    ],
    [
      "no table memory",
      (p: ReturnType<typeof base>) => (p.iommus[1].tableBytes = "0x0"),
      "iommus.1.tableBytes",
    ],
    [
      "table memory over 1 GiB",
      (p: ReturnType<typeof base>) => (p.iommus[1].tableBytes = "0x40001000"),
      "iommus.1.tableBytes",
    ],
    [
      "table memory in decimal",
      (p: ReturnType<typeof base>) => (p.iommus[0].tableBytes = "65536"),
      "iommus.0", // a union member's shape error names the unit (TypeBox)
    ],
  ])("refuses %s, naming the field", (_what, mutate, field) => {
    const p = base();
    mutate(p);
    const r = parsePlatform(p);
    expect("field" in r && r.field).toBe(field);
  });
});

describe("a platform's table memory (tableBytes)", () => {
  const sized = (vtd: string, smmu: string) => {
    const p = base();
    p.iommus[0].tableBytes = vtd;
    p.iommus[1].tableBytes = smmu;
    return parsePlatform(p) as Platform;
  };

  it("sizes each unit's table memory: frames free right after the units are added", () => {
    const log = createSystemLog(undefined, undefined, sized("0x40000", "0x40000"));
    // 64 frames each. VT-d unit 0 holds its root table and its 16-frame page request queue; SMMU
    // instance 0 the level-1 array of its two-level stream table (SIDSIZE 16, split 8: 2^8
    // descriptors × 8 bytes = 2 KiB, one frame; SMMUv3 spec 3.3.2).
    expect(vtdFramesAvailable(log.state.vtd.units.get(0)!)).toBe(64 - 1 - 16);
    expect(smmuFramesAvailable(log.state.smmu.instances.get(0)!)).toBe(64 - 1);
    const dflt = createSystemLog();
    expect(vtdFramesAvailable(dflt.state.vtd.units.get(0)!)).toBe(262_144 - 1 - 16);
  });

  it("the smallest VT-d table memory, 18 frames, leaves one frame; 4 KiB is enough for an SMMU instance", () => {
    const log = createSystemLog(undefined, undefined, sized("0x12000", "0x1000"));
    expect(vtdFramesAvailable(log.state.vtd.units.get(0)!)).toBe(1);
    expect(smmuFramesAvailable(log.state.smmu.instances.get(0)!)).toBe(0);
  });
});
