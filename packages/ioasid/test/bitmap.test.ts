import { decodeCanonical, encodeCanonical, sealEpoch, stateHash } from "@iommu-sim/eventlog";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PasidBitmap } from "../src/index";

/** Naive reference: the lowest id in [min, max] not in `taken`, or -1. */
function naiveLowest(taken: Set<number>, min: number, max: number, capacity: number): number {
  for (let id = Math.max(0, min); id <= Math.min(max, capacity - 1); id++) if (!taken.has(id)) return id;
  return -1;
}

describe("PasidBitmap", () => {
  it("starts empty over 2^bits ids and hands out the lowest free id of a range", () => {
    let b = PasidBitmap.empty(20);
    expect(b.capacity).toBe(1048576);
    expect(b.size).toBe(0);
    expect(b.lowestClear(0, 1048575)).toBe(0);
    b = b.set(0).set(1).set(3);
    expect(b.lowestClear(0, 10)).toBe(2);
    expect(b.lowestClear(3, 10)).toBe(4);
    expect(b.lowestClear(3, 3)).toBe(-1);
    expect(b.lowestClear(1048575, 2 ** 31 - 1)).toBe(1048575);
    expect(b.lowestClear(1048576, 2 ** 31 - 1)).toBe(-1); // beyond the 20-bit space
    expect([...b.ids()]).toEqual([0, 1, 3]);
  });

  it("skips full regions through the summary levels and finds the last free id", () => {
    let b = PasidBitmap.empty(20);
    for (let id = 0; id < 1048575; id++) b = b.set(id);
    expect(b.size).toBe(1048575);
    expect(b.lowestClear(0, 1048575)).toBe(1048575);
    expect(b.lowestClear(0, 1048574)).toBe(-1);
    b = b.clear(40000);
    expect(b.lowestClear(0, 1048575)).toBe(40000);
    expect(b.lowestClear(40001, 1048575)).toBe(1048575);
    b = b.set(1048575);
    expect(b.lowestClear(40001, 1048575)).toBe(-1);
  });

  it("matches a naive set model under any sequence of set/clear/search (fast-check)", () => {
    const bits = 10;
    const cap = 2 ** bits;
    const op = fc.oneof(
      fc.record({ k: fc.constant("set" as const), id: fc.integer({ min: 0, max: cap - 1 }) }),
      fc.record({ k: fc.constant("clear" as const), id: fc.integer({ min: 0, max: cap - 1 }) }),
      fc.record({ k: fc.constant("fill" as const), id: fc.integer({ min: 0, max: cap - 1 }) }),
      fc.record({
        k: fc.constant("find" as const),
        id: fc.integer({ min: 0, max: cap + 5 }),
        max: fc.integer({ min: 0, max: cap + 5 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        let b = PasidBitmap.empty(bits);
        const taken = new Set<number>();
        for (const o of ops) {
          if (o.k === "set" && !taken.has(o.id)) {
            b = b.set(o.id);
            taken.add(o.id);
          } else if (o.k === "clear" && taken.has(o.id)) {
            b = b.clear(o.id);
            taken.delete(o.id);
          } else if (o.k === "fill") {
            // Fill a 100-id run so whole words and summary bits become full.
            for (let id = o.id; id < Math.min(cap, o.id + 100); id++)
              if (!taken.has(id)) {
                b = b.set(id);
                taken.add(id);
              }
          } else if (o.k === "find") {
            const max = "max" in o ? o.max : 0;
            expect(b.lowestClear(o.id, max)).toBe(naiveLowest(taken, o.id, max, cap));
          }
          expect(b.size).toBe(taken.size);
        }
        expect([...b.ids()]).toEqual([...taken].sort((x, y) => x - y));
        // The decoded copy rebuilds its summaries: it must search the same way.
        const back = decodeCanonical(encodeCanonical(b)) as PasidBitmap;
        for (let min = 0; min < cap; min += 37)
          expect(back.lowestClear(min, cap - 1)).toBe(b.lowestClear(min, cap - 1));
      }),
      { numRuns: 300 },
    );
  });

  it("leaves a sealed bitmap unchanged when a later epoch writes (copy-on-write)", () => {
    let b = PasidBitmap.empty(20).set(5);
    sealEpoch();
    const before = b;
    const hash = stateHash(before);
    b = b.set(6).clear(5);
    expect(before.has(5)).toBe(true);
    expect(before.has(6)).toBe(false);
    expect(stateHash(before)).toBe(hash);
    expect([...b.ids()]).toEqual([6]);
  });

  it("hashes by content and survives the canonical encoding compactly", () => {
    let a = PasidBitmap.empty(20);
    let b = PasidBitmap.empty(20);
    for (const id of [1, 2, 3, 70000]) a = a.set(id);
    for (const id of [70000, 3, 9, 2, 1]) b = b.set(id);
    b = b.clear(9);
    expect(stateHash(a)).toBe(stateHash(b));
    const bytes = encodeCanonical(a);
    expect(bytes.length).toBeLessThan(64);
    const back = decodeCanonical(bytes) as PasidBitmap;
    expect([...back.ids()]).toEqual([1, 2, 3, 70000]);
    expect(back.lowestClear(0, 100)).toBe(0);
    expect(stateHash(back)).toBe(stateHash(a));
  });

  it("decodes a dense space with its summaries rebuilt", () => {
    let b = PasidBitmap.empty(20);
    for (let id = 0; id <= 70000; id++) b = b.set(id);
    b = b.clear(5000);
    const back = decodeCanonical(encodeCanonical(b)) as PasidBitmap;
    expect(back.size).toBe(70000);
    expect(back.lowestClear(0, 1048575)).toBe(5000);
    expect(back.lowestClear(5001, 1048575)).toBe(70001);
    expect(stateHash(back)).toBe(stateHash(b));
  });

  it("refuses impossible writes (caller bugs) with RangeError", () => {
    const b = PasidBitmap.empty(5).set(1);
    expect(() => b.set(1)).toThrow(RangeError);
    expect(() => b.clear(2)).toThrow(RangeError);
    expect(() => b.set(32)).toThrow(RangeError);
    expect(() => PasidBitmap.empty(40)).toThrow(RangeError);
  });
});

describe("PasidBitmap.frozen", () => {
  it("is never written in place, even within the epoch it was made in", () => {
    const frozen = PasidBitmap.empty(20).set(0).frozen();
    const b = frozen.set(1).clear(0);
    expect([...frozen.ids()]).toEqual([0]);
    expect([...b.ids()]).toEqual([1]);
  });
});
