/**
 * Caches behave as on hardware: a table change without invalidation stays
 * invisible; the right descriptor makes the new translation visible; the
 * wrong one (other domain, other page, the PASID-based type for a
 * second-stage entry) leaves the old one in place (VT-d §6.5.2).
 */
import { describe, expect, it } from "vitest";
import {
  CC_GRAN,
  ccDesc,
  DEFAULT_UNIT_CONFIG,
  decodeContextEntry,
  detachDevice,
  EMPTY_PASID_ENTRY,
  encodeDescriptors,
  executeDescriptor,
  FR,
  IOMMU_READ,
  IOMMU_WRITE,
  IOTLB_GRAN,
  Iotlb,
  iotlbDesc,
  iotlbFlushDescriptors,
  memOf,
  newUnit,
  PC_GRAN,
  PERM,
  PERM_ALL,
  PIOTLB_GRAN,
  pcDesc,
  piotlbDesc,
  TLB_CLASS,
  tlbTag,
  translate,
  translatePage,
  waitDesc,
} from "../src/index";
import { type Cmd, ok, RID, system } from "./fixture";

const RW = IOMMU_READ | IOMMU_WRITE;
const pa = (log: ReturnType<typeof system>, iova: bigint) => {
  const t = translate(log.state, 0, { rid: RID, iova, length: 1, write: false });
  return "kind" in t && t.kind === "ok" ? t.runs[0]!.pa : t;
};
const qi = (...descs: ReturnType<typeof iotlbDesc>[]): Cmd => ({
  type: "vtd.qi.submit",
  data: { unit: 0, descriptors: encodeDescriptors(descs, 32) },
});

function warmed() {
  const log = system();
  ok(log, { type: "vtd.unit.add", data: { unit: 0 } });
  ok(log, { type: "vtd.domain.alloc", data: { unit: 0 } });
  ok(log, { type: "vtd.domain.alloc", data: { unit: 0 } }); // DID 3: another domain
  ok(log, { type: "vtd.device.attach", data: { unit: 0, rid: RID, did: 2 } });
  ok(log, {
    type: "vtd.domain.map",
    data: { unit: 0, did: 2, iova: 0x10_0000n, pfnRuns: [{ pfn: 0x500, count: 1 }], prot: RW },
  });
  ok(log, { type: "vtd.dma", data: { unit: 0, rid: RID, iova: 0x10_0000n, length: 8, write: false } });
  // Change the PTE without invalidating: unmap, then map the page elsewhere.
  ok(log, { type: "vtd.domain.unmap", data: { unit: 0, did: 2, iova: 0x10_0000n, length: 0x1000n } });
  ok(log, {
    type: "vtd.domain.map",
    data: { unit: 0, did: 2, iova: 0x10_0000n, pfnRuns: [{ pfn: 0x600, count: 1 }], prot: RW },
  });
  return log;
}

describe("stale IOTLB (second stage)", () => {
  it("keeps serving the old translation until the right IOTLB invalidation", () => {
    const log = warmed();
    expect(pa(log, 0x10_0010n)).toBe(0x50_0010n);
    const w = ok(log, {
      type: "vtd.dma",
      data: { unit: 0, rid: RID, iova: 0x10_0000n, length: 4, write: true, bytes: new Uint8Array(4) },
    });
    expect(w.map((e) => e.type)).toEqual(["mm.phys.written"]);
    expect((w[0]!.data as { pa: bigint }).pa).toBe(0x50_0000n);

    ok(log, qi(iotlbDesc(IOTLB_GRAN.PAGE, 3, 0x10_0000n, 0))); // other domain
    expect(pa(log, 0x10_0010n)).toBe(0x50_0010n);
    ok(log, qi(iotlbDesc(IOTLB_GRAN.PAGE, 2, 0x20_0000n, 0))); // other page
    expect(pa(log, 0x10_0010n)).toBe(0x50_0010n);
    ok(log, qi(piotlbDesc(PIOTLB_GRAN.NONGLOBAL_PASID, 2, 0))); // PASID-based: first-stage/nested only
    expect(pa(log, 0x10_0010n)).toBe(0x50_0010n);

    ok(log, qi(iotlbDesc(IOTLB_GRAN.PAGE, 2, 0x10_0000n, 0)));
    expect(pa(log, 0x10_0010n)).toBe(0x60_0010n);
  });

  it("a page-selective invalidation covers 2^AM pages aligned down", () => {
    const log = warmed();
    ok(log, qi(iotlbDesc(IOTLB_GRAN.PAGE, 2, 0x10_3000n, 2))); // 4 pages: 0x10_0000..0x10_3fff
    expect(pa(log, 0x10_0010n)).toBe(0x60_0010n);
  });

  it("domain-selective and global invalidations; the driver's flush after unmap", () => {
    for (const d of [
      iotlbDesc(IOTLB_GRAN.DOMAIN, 2),
      iotlbDesc(IOTLB_GRAN.GLOBAL),
      ...iotlbFlushDescriptors(warmed().state.vtd.units.get(0)!, 2, 0x10_0000n, 0x1000n),
    ]) {
      const log = warmed();
      ok(log, qi(d));
      expect(pa(log, 0x10_0010n)).toBe(0x60_0010n);
    }
  });

  it("an invalidation wait writes its status word to RAM", () => {
    const log = warmed();
    const ev = ok(
      log,
      qi(iotlbDesc(IOTLB_GRAN.GLOBAL), waitDesc({ statusAddr: 0x8000n, statusData: 0x1234 })),
    );
    expect(ev.map((e) => e.type)).toEqual(["vtd.qi.executed", "mm.phys.written"]);
    expect(log.state.mm.ram.readU32(0x8000)).toBe(0x1234);
  });
});

describe("cache capacity (FIFO eviction)", () => {
  it("evicts the oldest IOTLB entry when full", () => {
    const log = system();
    ok(log, { type: "vtd.unit.add", data: { unit: 0, iotlbSize: 2 } });
    ok(log, { type: "vtd.domain.alloc", data: { unit: 0 } });
    ok(log, { type: "vtd.device.attach", data: { unit: 0, rid: RID, did: 2 } });
    ok(log, {
      type: "vtd.domain.map",
      data: { unit: 0, did: 2, iova: 0n, pfnRuns: [{ pfn: 0x500, count: 3 }], prot: RW },
    });
    for (const iova of [0n, 0x1000n, 0x2000n])
      ok(log, { type: "vtd.dma", data: { unit: 0, rid: RID, iova, length: 1, write: false } });
    const cached = [...log.state.vtd.units.get(0)!.iotlb.entries()].map(([, vpn]) => vpn);
    expect(cached).toEqual([1, 2]);
  });
});

describe("hit-path memos", () => {
  it("never serve an entry removed in place from the same cache instance", () => {
    const log = warmed();
    ok(log, { type: "vtd.dma", data: { unit: 0, rid: RID, iova: 0x10_0000n, length: 1, write: false } });
    const root = log.state; // sealed: the next change copies the PASID cache once
    const unit = root.vtd.units.get(0)!;
    const ram = root.mm.ram;
    const pe = unit.pasidCache.get(RID * 0x100000)!;
    const u1 = { ...unit, pasidCache: unit.pasidCache.set(RID * 0x100000 + 9, pe) };
    expect(translatePage(u1, memOf(u1, ram), RID, -1, 0x100, 0)).toBe(0x500);
    const u2 = detachDevice(u1, RID, 0); // deletes from u1's (now writable) PASID cache in place
    expect(u2.pasidCache).toBe(u1.pasidCache);
    expect(translatePage(u2, memOf(u2, ram), RID, -1, 0x100, 0)).toBe(-FR.PASID_ENTRY_P);
  });
});

describe("context-cache and PASID-cache invalidation (VT-d §6.5.2.1, §6.5.2.5)", () => {
  const base = () => {
    let unit = newUnit(0, DEFAULT_UNIT_CONFIG, 8);
    const ce = decodeContextEntry(1n, 0n);
    let pasidCache = unit.pasidCache;
    let contextCache = unit.contextCache;
    for (let rid = 0x0310; rid < 0x0318; rid++) contextCache = contextCache.set(rid, ce);
    for (const [rid, pasid, did] of [
      [0x0310, 0, 2],
      [0x0310, 5, 3],
      [0x0311, 5, 3],
      [0x0311, 6, 4],
    ] as const)
      pasidCache = pasidCache.set(rid * 0x100000 + pasid, { ...EMPTY_PASID_ENTRY, present: true, did });
    unit = { ...unit, contextCache, pasidCache };
    return unit;
  };
  const rids = (u: ReturnType<typeof base>) => [...u.contextCache.entries()].map(([k]) => k);
  const keys = (u: ReturnType<typeof base>) =>
    [...u.pasidCache.entries()].map(([k]) => [Math.floor(k / 0x100000), k % 0x100000]);

  it("device-selective with function masks FM = 0..3", () => {
    expect(rids(executeDescriptor(base(), ccDesc(CC_GRAN.DEVICE, 0, 0x0312, 0)))).toEqual([
      0x0310, 0x0311, 0x0313, 0x0314, 0x0315, 0x0316, 0x0317,
    ]);
    expect(rids(executeDescriptor(base(), ccDesc(CC_GRAN.DEVICE, 0, 0x0312, 1)))).toEqual([
      0x0310, 0x0311, 0x0313, 0x0314, 0x0315, 0x0317,
    ]); // SID[2] masked: 0x312 and 0x316
    expect(rids(executeDescriptor(base(), ccDesc(CC_GRAN.DEVICE, 0, 0x0312, 3)))).toEqual([]);
    expect(rids(executeDescriptor(base(), ccDesc(CC_GRAN.GLOBAL)))).toEqual([]);
  });

  it("PASID cache: domain-selective, PASID-selective within a domain, global", () => {
    expect(keys(executeDescriptor(base(), pcDesc(PC_GRAN.DOMAIN, 3)))).toEqual([
      [0x0310, 0],
      [0x0311, 6],
    ]);
    expect(keys(executeDescriptor(base(), pcDesc(PC_GRAN.PASID, 4, 5)))).toEqual(keys(base()));
    expect(keys(executeDescriptor(base(), pcDesc(PC_GRAN.PASID, 4, 6)))).toEqual([
      [0x0310, 0],
      [0x0310, 5],
      [0x0311, 5],
    ]);
    expect(keys(executeDescriptor(base(), pcDesc(PC_GRAN.GLOBAL)))).toEqual([]);
  });
});

describe("Iotlb", () => {
  it("looks up 4 KiB, 2 MiB and 1 GiB entries and forgets in-place removals and replacements", () => {
    const tag = tlbTag(2, 0, TLB_CLASS.SECOND_STAGE);
    let t = Iotlb.empty(16).fill(tag, 0x100, 0, 0x500, PERM_ALL);
    t = t.fill(tag, 0x4_0123, 1, 0x20_0000, PERM.READ); // 2 MiB page of vpn 0x4_0000..0x4_01ff
    t = t.fill(tag, 0x8_0000, 2, 0x4000_0000, PERM.READ); // 1 GiB page
    expect(t.lookup(tag, 0x100)).toBe(0x500 * 64 + PERM_ALL);
    expect(t.lookup(tag, 0x4_01ff)).toBe((0x20_0000 + 0x1ff) * 64 + PERM.READ);
    expect(t.lookup(tag, 0xb_ffff)).toBe((0x4000_0000 + 0x3_ffff) * 64 + PERM.READ);
    expect(t.lookup(tlbTag(3, 0, TLB_CLASS.SECOND_STAGE), 0x100)).toBe(-1);
    const same = t.fill(tag, 0x100, 0, 0x600, PERM_ALL); // same epoch: written in place
    expect(same).toBe(t);
    expect(t.lookup(tag, 0x100)).toBe(0x600 * 64 + PERM_ALL);
    t.invalidate(() => true, { vpnStart: 0x100, pages: 1 });
    expect(t.lookup(tag, 0x100)).toBe(-1);
    expect(t.size).toBe(2);
    const other = tlbTag(3, 0, TLB_CLASS.SECOND_STAGE);
    expect(t.fill(other, 0x7, 0, 0x7, PERM_ALL)).toBe(t);
    expect(t.lookup(tag, 0x4_0000)).toBe(0x20_0000 * 64 + PERM.READ);
    expect(t.invalidate((x) => x === tag)).toBe(t); // the whole tag, in place
    expect(t.lookup(tag, 0x4_0000)).toBe(-1);
    expect(t.size).toBe(1);
  });
});
