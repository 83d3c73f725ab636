/**
 * Property: IOMMU_HWPT_INVALIDATE on a mock vIOMMU behaves like a naive
 * model of selftest.c mock_viommu_cache_invalidate() over two mock devices
 * with vDEVICEs 0x99 and 0x88 — entries in order; unknown flags (anything
 * but IOMMU_TEST_INVALIDATE_FLAG_ALL = 1) → EOPNOTSUPP, cache_id > 3 →
 * EINVAL (FLAG_ALL or not), a vdev_id without vDEVICE → EINVAL, each
 * stopping there; FLAG_ALL clears the device's four entries, else entry
 * cache_id is set to 0; entry_num written back = entries done. After every
 * request the DEV_CHECK_CACHE probes of both devices agree with the model.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEV_CACHE_DEFAULT, VIOMMU_INV_SELFTEST, ViommuFixture, viommuInv } from "./viommu-support";

type Entry = [flags: number, vdevId: number, cacheId: number];

/** The naive model: both caches (by vdev id) after the request, entries done, errno (0 = none). */
function model(
  caches: Map<number, number[]>,
  entries: Entry[],
): { caches: Map<number, number[]>; done: number; rc: number } {
  const next = new Map([...caches].map(([k, v]) => [k, [...v]]));
  for (let i = 0; i < entries.length; i++) {
    const [flags, vdev, id] = entries[i]!;
    if ((flags & ~1) !== 0) return { caches: next, done: i, rc: -95 };
    if (id > 3) return { caches: next, done: i, rc: -22 };
    const cache = next.get(vdev);
    if (cache === undefined) return { caches: next, done: i, rc: -22 };
    if (flags & 1) cache.fill(0);
    else cache[id] = 0;
  }
  return { caches: next, done: entries.length, rc: 0 };
}

const entry = fc.tuple(
  fc.constantFrom(0, 0, 0, 1, 2, 0x80000000),
  fc.constantFrom(0x99, 0x88, 0x99, 0x9),
  fc.integer({ min: 0, max: 5 }),
);

describe("mock vIOMMU invalidation against a naive model", () => {
  it("entry_num, the errno and both devices' caches match after any sequence of requests", () => {
    fc.assert(
      fc.property(fc.array(fc.array(entry, { maxLength: 4 }), { maxLength: 5 }), (requests) => {
        const f = new ViommuFixture();
        const [rc, viommu] = f.viommuAlloc(f.idev, f.parent);
        const [rc2, [, , idev2]] = f.mockDomain(f.ioas);
        expect([
          rc,
          rc2,
          f.vdeviceAlloc(viommu, f.idev, 0x99n)[0],
          f.vdeviceAlloc(viommu, idev2, 0x88n)[0],
        ]).toEqual([0, 0, 0, 0]);
        const devs = new Map([
          [0x99, f.idev],
          [0x88, idev2],
        ]);
        let caches = new Map([...devs.keys()].map((k) => [k, new Array<number>(4).fill(DEV_CACHE_DEFAULT)]));
        for (const req of requests) {
          const want = model(caches, req);
          const data = req.length > 0 ? viommuInv(...req) : new Uint8Array(12);
          expect(f.invalidate(viommu, data, VIOMMU_INV_SELFTEST, 12, req.length)).toEqual([
            want.rc,
            want.done,
          ]);
          caches = want.caches;
          for (const [vdev, dev] of devs)
            expect(caches.get(vdev)!.map((v, i) => f.checkDevCache(dev, i, v))).toEqual([0, 0, 0, 0]);
        }
      }),
      { numRuns: 40 },
    );
  });
});
