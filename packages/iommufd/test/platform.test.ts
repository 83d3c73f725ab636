import { describe, expect, it } from "vitest";
import { DEFAULT_PLATFORM, parsePlatform, rid } from "../src/index";

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
  ])("refuses %s, naming the field", (_what, mutate, field) => {
    const p = base();
    mutate(p);
    const r = parsePlatform(p);
    expect("field" in r && r.field).toBe(field);
  });
});
