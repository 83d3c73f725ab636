/**
 * The table pages a second-stage map needs, decided before it is made
 * (table-budget.ts). Golden counts from the VT-d spec rev 4.1 §3.7: the
 * default unit's domains get the 57-bit AGAW (SAGAW 5-level within MGAW
 * 56), so a 4 KiB leaf sits in a level-1 table under levels 4, 3 and 2
 * below the root: 4 tables; a 2 MiB superpage (CAP.SLLPS bit 0) is a leaf
 * of a level-2 table: 3; a 1 GiB one (SLLPS bit 1) of a level-3 table: 2.
 * The exact count is checked against what the writer really allocates
 * (`mapDomain`, the unit's frame allocator) for random sequences of maps.
 * An unmap returns the tables it covers whole to the unit's free list.
 */
import { sealEpoch } from "@iommu-sim/eventlog";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  allocPaging,
  checkAllocPaging,
  DEFAULT_UNIT_CONFIG,
  framesAvailable,
  MAX_SL_LEVELS,
  mapDomain,
  mapTableBound,
  mapTablePages,
  newUnit,
  type TableMap,
  unmapDomain,
  type VtdUnit,
} from "../src/index";

const GiB = 0x4000_0000n;
const MiB2 = 0x20_0000n;
const PAGES_2M = 512;
const PAGES_1G = 512 * 512;

/** Unit 0 with the default configuration (1 GiB of table memory unless `tableFrames`) and one paging domain. */
function unitWithDomain(tableFrames = DEFAULT_UNIT_CONFIG.tableFrames): { unit: VtdUnit; did: number } {
  const u = newUnit(0, { ...DEFAULT_UNIT_CONFIG, tableFrames }, 8);
  const did = checkAllocPaging(u, {});
  if (typeof did !== "number") throw new Error(`domain: ${did}`);
  return { unit: allocPaging(u, did, {}), did };
}

/** Map `maps` in order with mapDomain; @returns the unit and the table frames it took. */
function mapAll(unit: VtdUnit, did: number, maps: readonly TableMap[]): { unit: VtdUnit; taken: number } {
  sealEpoch(); // the writes must not reach `unit`'s table memory in place (nor an unmap's, after)
  const before = framesAvailable(unit);
  for (const m of maps) unit = mapDomain(unit, did, m.iova, m.pfnRuns, 3);
  return { unit, taken: before - framesAvailable(unit) };
}

describe("mapTablePages: the tables a sequence of maps allocates (golden: VT-d spec §3.7)", () => {
  const { unit, did } = unitWithDomain();

  it("a 4 KiB map into an empty 5-level table: one table per level below the root (4)", () => {
    expect(mapTablePages(unit, did, [{ iova: 0x10_0000n, pfnRuns: [{ pfn: 7, count: 1 }] }])).toBe(4);
  });

  it("a 2 MiB superpage: 3 tables; a 1 GiB superpage: 2", () => {
    expect(mapTablePages(unit, did, [{ iova: MiB2, pfnRuns: [{ pfn: PAGES_2M, count: PAGES_2M }] }])).toBe(3);
    expect(mapTablePages(unit, did, [{ iova: GiB, pfnRuns: [{ pfn: PAGES_1G, count: PAGES_1G }] }])).toBe(2);
  });

  it("maps of one sequence share tables: two pages under one leaf table 4, two 1 GiB apart 4 + 2", () => {
    const page = (iova: bigint, pfn: number): TableMap => ({ iova, pfnRuns: [{ pfn, count: 1 }] });
    expect(mapTablePages(unit, did, [page(0x1000n, 1), page(0x2000n, 2)])).toBe(4);
    expect(mapTablePages(unit, did, [page(0x1000n, 1), page(GiB + 0x1000n, 2)])).toBe(6);
  });

  it("tables that exist are not counted; a map the domain refuses (EADDRINUSE) counts 0", () => {
    const m = mapAll(unit, did, [{ iova: 0x1000n, pfnRuns: [{ pfn: 1, count: 1 }] }]);
    expect(m.taken).toBe(4);
    expect(mapTablePages(m.unit, did, [{ iova: 0x2000n, pfnRuns: [{ pfn: 2, count: 1 }] }])).toBe(0);
    const taken = { iova: 0x1000n, pfnRuns: [{ pfn: 9, count: 1 }] };
    const next2M = { iova: MiB2 + 0x1000n, pfnRuns: [{ pfn: 9, count: 1 }] };
    expect(mapTablePages(m.unit, did, [taken, next2M])).toBe(1);
  });

  it("counts whatever the table memory holds: a unit with no frame left still answers 4", () => {
    // 1 root table + 16 PRQ frames + the domain's root: nothing left.
    const { unit: full, did: d } = unitWithDomain(1 + DEFAULT_UNIT_CONFIG.prqFrames + 1);
    expect(framesAvailable(full)).toBe(0);
    expect(mapTablePages(full, d, [{ iova: 0n, pfnRuns: [{ pfn: 1, count: 1 }] }])).toBe(4);
  });

  it("non-paging or unknown domains, maps without runs: 0", () => {
    expect(mapTablePages(unit, 999, [{ iova: 0n, pfnRuns: [{ pfn: 1, count: 1 }] }])).toBe(0);
    expect(mapTablePages(unit, did, [{ iova: 0n, pfnRuns: [] }])).toBe(0);
  });
});

describe("unmap frees the tables it covers whole (Linux generic_pt __unmap_range())", () => {
  // PFNs from 1: never 2 MiB aligned with the IOVA, so 4 KiB leaves only.
  const leaves = (iova: bigint, pages: number): TableMap => ({ iova, pfnRuns: [{ pfn: 1, count: pages }] });

  it("two leaf tables (2 × 2 MiB) go back to the free list; the level-2, -3, -4 tables stay", () => {
    const { unit, did } = unitWithDomain();
    const m = mapAll(unit, did, [leaves(MiB2, 1024)]);
    expect(m.taken).toBe(5); // levels 4, 3, 2 and two leaf tables
    const after = unmapDomain(m.unit, did, MiB2, 2n * MiB2);
    expect(framesAvailable(after) - framesAvailable(m.unit)).toBe(2);
    // Mapping there again takes the two frames back.
    expect(mapTablePages(after, did, [leaves(MiB2, 1024)])).toBe(2);
    expect(mapAll(after, did, [leaves(MiB2, 1024)]).taken).toBe(2);
  });

  it("a range covering the whole 1 GiB of a level-2 table frees it with its leaf tables (3)", () => {
    const { unit, did } = unitWithDomain();
    const m = mapAll(unit, did, [leaves(MiB2, 1024)]);
    const after = unmapDomain(m.unit, did, 0n, GiB);
    expect(framesAvailable(after) - framesAvailable(m.unit)).toBe(3);
    expect(mapTablePages(after, did, [leaves(MiB2, 1)])).toBe(2);
  });

  it("a range covering a table in part frees nothing, even when it leaves the table empty", () => {
    const { unit, did } = unitWithDomain();
    const m = mapAll(unit, did, [leaves(MiB2 + 0x1000n, 1)]);
    const after = unmapDomain(m.unit, did, MiB2 + 0x1000n, 0x1000n);
    expect(framesAvailable(after)).toBe(framesAvailable(m.unit));
  });
});

describe("mapTableBound: a walk-free upper bound from the length", () => {
  it("one page: one table per level below a 5-level root (4); no page: 0", () => {
    expect(MAX_SL_LEVELS).toBe(5);
    expect(mapTableBound(1)).toBe(4);
    expect(mapTableBound(0)).toBe(0);
  });

  it("513 pages: two tables per level, met by a map straddling the 256 TiB boundary (a level-4 table's span)", () => {
    expect(mapTableBound(513)).toBe(8);
    const { unit, did } = unitWithDomain();
    // PFNs from 1: never 2 MiB aligned with the IOVA, so no superpage.
    const straddle = { iova: 2n ** 48n - 4096n, pfnRuns: [{ pfn: 1, count: 513 }] };
    expect(mapTablePages(unit, did, [straddle])).toBe(8);
  });
});

describe("property: exact count = frames the writer takes ≤ the bound (fast-check)", () => {
  it("holds for random sequences of disjoint maps, superpages included", () => {
    // A map: a start page (some 2 MiB aligned), a length, PFNs equal to the IOVA's page (so superpages fit).
    const mapArb = fc.record({
      start: fc.oneof(
        fc.integer({ min: 0, max: 2 ** 22 }),
        fc.integer({ min: 0, max: 2 ** 13 }).map((x) => x * PAGES_2M),
      ),
      pages: fc.integer({ min: 1, max: 1400 }),
    });
    fc.assert(
      fc.property(fc.array(mapArb, { minLength: 1, maxLength: 5 }), (raw) => {
        const maps: TableMap[] = [];
        const taken: [number, number][] = [];
        for (const r of raw) {
          const end = r.start + r.pages;
          if (taken.some(([s, e]) => r.start < e && s < end)) continue;
          taken.push([r.start, end]);
          maps.push({ iova: BigInt(r.start) * 4096n, pfnRuns: [{ pfn: r.start, count: r.pages }] });
        }
        const { unit, did } = unitWithDomain();
        const exact = mapTablePages(unit, did, maps);
        expect(exact).toBe(mapAll(unit, did, maps).taken);
        const bound = maps.reduce((n, m) => n + mapTableBound(m.pfnRuns[0]!.count), 0);
        expect(exact).toBeLessThanOrEqual(bound);
      }),
      { numRuns: 150 },
    );
  });
});
