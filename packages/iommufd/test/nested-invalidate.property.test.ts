/**
 * Property: IOMMU_HWPT_INVALIDATE on a mock nested HWPT behaves like a
 * naive model of selftest.c mock_domain_cache_invalidate_user() — entries
 * in order; unknown flags (anything but IOMMU_TEST_INVALIDATE_FLAG_ALL = 1)
 * → EOPNOTSUPP, iotlb_id > 3 without FLAG_ALL → EINVAL, both stopping
 * there; FLAG_ALL clears the four entries, else entry iotlb_id is set to 0;
 * entry_num written back = entries done. After every request the four
 * MD_CHECK_IOTLB probes agree with the model.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hwptSelftest, invSelftest, NestedFixture } from "./nested-support";

const IOTLB_DEFAULT = 0xbadbeef;

type Entry = [flags: number, iotlbId: number];

/** The naive model: new IOTLB, entries done, errno (0 = none). */
function model(iotlb: number[], entries: Entry[]): { iotlb: number[]; done: number; rc: number } {
  const next = [...iotlb];
  for (let i = 0; i < entries.length; i++) {
    const [flags, id] = entries[i]!;
    if ((flags & ~1) !== 0) return { iotlb: next, done: i, rc: -95 };
    if (id > 3) return { iotlb: next, done: i, rc: -22 };
    if (flags & 1) next.fill(0);
    else next[id] = 0;
  }
  return { iotlb: next, done: entries.length, rc: 0 };
}

const entry = fc.tuple(fc.constantFrom(0, 0, 0, 1, 2, 0x80000000), fc.integer({ min: 0, max: 5 }));

describe("mock nested invalidation against a naive model", () => {
  it("entry_num, the errno and the IOTLB match after any sequence of requests", () => {
    fc.assert(
      fc.property(fc.array(fc.array(entry, { maxLength: 5 }), { maxLength: 6 }), (requests) => {
        const f = new NestedFixture(1);
        const parent = f.hwptAlloc(f.idev, f.ioas, 1)[1];
        const [rc, nested] = f.hwptAlloc(f.idev, parent, 0, 0xdead, hwptSelftest(IOTLB_DEFAULT));
        expect(rc).toBe(0);
        let iotlb = [IOTLB_DEFAULT, IOTLB_DEFAULT, IOTLB_DEFAULT, IOTLB_DEFAULT];
        for (const req of requests) {
          const want = model(iotlb, req);
          const got = f.invalidate(
            nested,
            req.length > 0 ? invSelftest(...req) : new Uint8Array(8),
            0xdeadbeef,
            8,
            req.length,
          );
          expect(got).toEqual([want.rc, want.done]);
          iotlb = want.iotlb;
          expect(iotlb.map((v, i) => f.checkIotlb(nested, i, v))).toEqual([0, 0, 0, 0]);
        }
      }),
      { numRuns: 40 },
    );
  });
});
