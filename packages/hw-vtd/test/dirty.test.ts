/**
 * Second-stage dirty tracking (iommufd IOMMU_HWPT_SET_DIRTY_TRACKING /
 * GET_DIRTY_BITMAP on VT-d): SSADE in the PASID entry makes the hardware set
 * A (bit 8) in every second-stage entry used and D (bit 9) in the leaf of a
 * write (VT-d §3.7.2, §9.8); Linux `intel_iommu_set_dirty_tracking()` and
 * `intel_iommu_read_and_clear_dirty()`.
 */
import { encodeRecord, Vocabulary } from "@iommu-sim/eventlog";
import { vtdMessages } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_ECAP,
  encodeDescriptors,
  IOMMU_READ,
  IOMMU_WRITE,
  iotlbFlushDescriptors,
  readContextEntry,
  readDirty,
} from "../src/index";
import { fails, ok, RID, system } from "./fixture";

const RW = IOMMU_READ | IOMMU_WRITE;
const unitOf = (log: ReturnType<typeof system>) => log.state.vtd.units.get(0)!;
const dma = (iova: bigint, write: boolean) =>
  ({
    type: "vtd.dma",
    data: { unit: 0, rid: RID, iova, length: 4, write, ...(write ? { bytes: new Uint8Array(4) } : {}) },
  }) as const;

function tracked() {
  const log = system();
  ok(log, { type: "vtd.unit.add", data: { unit: 0 } });
  ok(log, { type: "vtd.domain.alloc", data: { unit: 0, dirtyTracking: true } });
  ok(log, { type: "vtd.device.attach", data: { unit: 0, rid: RID, did: 2 } });
  // Two 4 KiB leaves (frame 0x501 is not 2 MiB aligned) at IOVA 0x10_0000.
  ok(log, {
    type: "vtd.domain.map",
    data: { unit: 0, did: 2, iova: 0x10_0000n, pfnRuns: [{ pfn: 0x501, count: 2 }], prot: RW },
  });
  ok(log, { type: "vtd.domain.set_dirty_tracking", data: { unit: 0, did: 2, enable: true } });
  return log;
}

/** The PASID-0 entry's first quadword of `RID`. */
function pasidEntryQ0(log: ReturnType<typeof system>): bigint {
  const unit = unitOf(log);
  const dir = readContextEntry(unit, RID)!.pasidDirPtr;
  const table = Number(unit.tables.readU64(dir) & ~0xfffn);
  return unit.tables.readU64(table);
}

describe("dirty tracking (SSADE)", () => {
  it("needs ECAP.SSADS and a domain allocated for it", () => {
    const log = system();
    ok(log, { type: "vtd.unit.add", data: { unit: 0, ecap: DEFAULT_ECAP & ~(1n << 45n) } });
    fails(log, { type: "vtd.domain.alloc", data: { unit: 0, dirtyTracking: true } }, "EOPNOTSUPP");
    ok(log, { type: "vtd.domain.alloc", data: { unit: 0 } });
    fails(
      log,
      { type: "vtd.domain.set_dirty_tracking", data: { unit: 0, did: 2, enable: true } },
      "EOPNOTSUPP",
    );
  });

  it("sets SSADE (bit 9) in the PASID entry, and clears it again", () => {
    const log = tracked();
    expect(pasidEntryQ0(log) & 0x200n).toBe(0x200n);
    ok(log, { type: "vtd.domain.set_dirty_tracking", data: { unit: 0, did: 2, enable: false } });
    expect(pasidEntryQ0(log) & 0x200n).toBe(0n);
  });

  it("a write sets A in every entry and D in the leaf; a read sets only A", () => {
    const log = tracked();
    const ev = ok(log, dma(0x10_0000n, true));
    const accessed = ev
      .filter((e) => e.type === "vtd.entry.accessed")
      .map((e) => e.data as { value: bigint });
    expect(accessed.length).toBe(5); // 5-level table: 4 directories + the leaf
    // leaf: frame 0x501 | R | W | A (0x100) | D (0x200)
    expect(accessed.at(-1)!.value).toBe(0x50_1303n);
    ok(log, dma(0x10_1000n, false));
    expect(readDirty(unitOf(log), 2, 0x10_0000n, 0x2000n)).toEqual([{ iova: 0x10_0000n, length: 0x1000n }]);
  });

  it("reading and clearing: a stale dirty IOTLB entry hides new writes until the IOTLB flush", () => {
    const log = tracked();
    ok(log, dma(0x10_0000n, true));
    ok(log, { type: "vtd.dirty.clear", data: { unit: 0, did: 2, iova: 0x10_0000n, length: 0x2000n } });
    expect(readDirty(unitOf(log), 2, 0x10_0000n, 0x2000n)).toEqual([]);
    ok(log, dma(0x10_0000n, true)); // IOTLB hit, cached as dirty: the hardware sets nothing
    expect(readDirty(unitOf(log), 2, 0x10_0000n, 0x2000n)).toEqual([]);
    const flush = iotlbFlushDescriptors(unitOf(log), 2, 0x10_0000n, 0x2000n);
    ok(log, { type: "vtd.qi.submit", data: { unit: 0, descriptors: encodeDescriptors(flush, 32) } });
    ok(log, dma(0x10_0000n, true));
    expect(readDirty(unitOf(log), 2, 0x10_0000n, 0x2000n)).toEqual([{ iova: 0x10_0000n, length: 0x1000n }]);
  });

  it("every message of the scenario validates against the vocabulary", () => {
    const log = tracked();
    ok(log, dma(0x10_0000n, true));
    ok(log, { type: "vtd.dirty.clear", data: { unit: 0, did: 2, iova: 0x10_0000n, length: 0x1000n } });
    const vocab = new Vocabulary(vtdMessages);
    for (const r of log.records) {
      if (!r.type.startsWith("vtd.")) continue;
      const json = JSON.parse(encodeRecord(r)) as { data: unknown };
      expect(vocab.decode(r.type, json.data)).toEqual({ ok: true, data: r.data });
    }
  });
});
