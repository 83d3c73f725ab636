/**
 * The unmap path flushes the IOTLB directly (flushIotlbRange); it must
 * leave the unit exactly as executing the descriptors Linux queues
 * (iotlbFlushDescriptors → executeDescriptor) does.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_UNIT_CONFIG,
  executeDescriptor,
  flushIotlbRange,
  iotlbFlushDescriptors,
  newUnit,
  TLB_CLASS,
  tlbTag,
  type VtdUnit,
} from "../src/index";

const entryArb = fc.record({
  did: fc.constantFrom(2, 3),
  pasid: fc.constantFrom(0, 5),
  cls: fc.constantFrom(TLB_CLASS.SECOND_STAGE, TLB_CLASS.NESTED, 1),
  vpn: fc.nat(4095),
  sizeIdx: fc.constantFrom(0, 0, 1),
});

describe("flushIotlbRange", () => {
  it("does what executing iotlbFlushDescriptors does (property: page- and domain-selective)", () => {
    const base = newUnit(0, DEFAULT_UNIT_CONFIG, 8);
    fc.assert(
      fc.property(
        fc.array(entryArb, { maxLength: 24 }),
        fc.constantFrom(2, 3),
        fc.nat(4095),
        fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 1 << 20 })),
        (entries, did, firstPage, pages) => {
          let iotlb = base.iotlb;
          for (const e of entries) {
            const scale = e.sizeIdx === 0 ? 1 : 512;
            iotlb = iotlb.fill(tlbTag(e.did, e.pasid, e.cls), e.vpn - (e.vpn % scale), e.sizeIdx, 0x100, 3);
          }
          const unit: VtdUnit = { ...base, iotlb };
          const iova = BigInt(firstPage) * 4096n;
          const length = BigInt(pages) * 4096n;
          let viaQueue = unit;
          for (const d of iotlbFlushDescriptors(unit, did, iova, length))
            viaQueue = executeDescriptor(viaQueue, d);
          const direct = flushIotlbRange(unit, did, iova, length);
          expect([...direct.iotlb.entries()]).toEqual([...viaQueue.iotlb.entries()]);
          expect(direct.iotlb.size).toBe(viaQueue.iotlb.size);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps the unit itself when the IOTLB is empty", () => {
    const unit = newUnit(0, DEFAULT_UNIT_CONFIG, 8);
    expect(flushIotlbRange(unit, 2, 0x1000n, 0x1000n)).toBe(unit);
  });
});
