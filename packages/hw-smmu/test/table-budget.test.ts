/**
 * The table pages an io-pgtable-arm map needs, decided before it is made
 * (table-budget.ts). Golden counts from the Arm ARM D8.2 (VMSAv8-64, 4 KiB
 * granule, 48-bit input: lookup levels 0–3, the level-0 table being the
 * domain's own): a 4 KiB page is a level-3 leaf, under new level-1, -2
 * and -3 tables: 3; a 2 MiB block is a level-2 leaf: 2; a 1 GiB block a
 * level-1 leaf: 1. The exact count is checked against what `mapRange`
 * really takes from the instance's table memory for random sequences.
 * Unmaps that cover a table whole and freed domains give tables back.
 */
import { sealEpoch } from "@iommu-sim/eventlog";
import { isErrno } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  framesAvailable,
  IOMMU_READ,
  IOMMU_WRITE,
  mapRange,
  mapTableBound,
  mapTablePages,
  type SmmuState,
  type TableMap,
} from "../src/index";
import { alloc, type Log, ok, withSmmu } from "./fixture";

const RW = IOMMU_READ | IOMMU_WRITE;
const GiB = 0x4000_0000n;
const PAGES_2M = 512;
const PAGES_1G = 512 * 512;

/** Instance 0 (16 MiB of table memory) with one paging domain of `kind`. */
function withDomain(kind: "s1" | "s2" = "s1"): { log: Log; domain: number } {
  const log = withSmmu();
  const ev = ok(log, { type: "smmu.domain.alloc", data: { instance: 0, kind } });
  return { log, domain: (ev[0]!.data as { domain: number }).domain };
}

const page = (iova: bigint, pfn: number): TableMap => ({ iova, pfnRuns: [{ pfn, count: 1 }], prot: RW });
const free0 = (s: SmmuState) => framesAvailable(s.instances.get(0)!);

/** Map `maps` in order with mapRange; @returns the slice and the table frames it took. */
function mapAll(s: SmmuState, domain: number, maps: readonly TableMap[]): { s: SmmuState; taken: number } {
  sealEpoch(); // the writes must not reach `s`'s table memory in place
  const before = free0(s);
  for (const m of maps) {
    const r = mapRange(s, 0, domain, m.iova, m.pfnRuns, m.prot);
    if (isErrno(r)) throw new Error(`map: ${r}`);
    s = r;
  }
  return { s, taken: before - free0(s) };
}

describe("mapTablePages: the tables a sequence of maps allocates (golden: Arm ARM D8.2)", () => {
  it("a 4 KiB page: 3 tables; a 2 MiB block: 2; a 1 GiB block: 1 (stage 1 and stage 2 alike)", () => {
    for (const kind of ["s1", "s2"] as const) {
      const { log, domain } = withDomain(kind);
      const s = log.state.smmu;
      expect(mapTablePages(s, 0, domain, [page(0x10_0000n, 7)])).toBe(3);
      const block2M = { iova: 0x20_0000n, pfnRuns: [{ pfn: PAGES_2M, count: PAGES_2M }], prot: RW };
      expect(mapTablePages(s, 0, domain, [block2M])).toBe(2);
      const block1G = { iova: GiB, pfnRuns: [{ pfn: PAGES_1G, count: PAGES_1G }], prot: RW };
      expect(mapTablePages(s, 0, domain, [block1G])).toBe(1);
    }
  });

  it("maps of one sequence share tables: 1 GiB apart 3 + 2, 512 GiB apart (a level-0 entry) 3 + 3", () => {
    const { log, domain } = withDomain();
    const s = log.state.smmu;
    expect(mapTablePages(s, 0, domain, [page(0x1000n, 1), page(0x2000n, 2)])).toBe(3);
    expect(mapTablePages(s, 0, domain, [page(0x1000n, 1), page(GiB + 0x1000n, 2)])).toBe(5);
    expect(mapTablePages(s, 0, domain, [page(0x1000n, 1), page(512n * GiB, 2)])).toBe(6);
  });

  it("tables that exist are not counted; a refused map (EEXIST, no READ/WRITE) counts 0", () => {
    const { log, domain } = withDomain();
    const m = mapAll(log.state.smmu, domain, [page(0x1000n, 1)]);
    expect(m.taken).toBe(3);
    expect(mapTablePages(m.s, 0, domain, [page(0x2000n, 2)])).toBe(0);
    expect(mapTablePages(m.s, 0, domain, [page(0x1000n, 9), page(0x20_1000n, 9)])).toBe(1);
    expect(mapTablePages(m.s, 0, domain, [{ ...page(GiB, 3), prot: 0 }])).toBe(0);
  });

  it("counts whatever table memory holds: an exhausted instance still answers 3, and mapRange refuses ENOMEM", () => {
    const { log, domain } = withDomain();
    alloc(log, free0(log.state.smmu) * 4096);
    const s = log.state.smmu;
    expect(free0(s)).toBe(0);
    expect(mapTablePages(s, 0, domain, [page(0x1000n, 1)])).toBe(3);
    const r = mapRange(s, 0, domain, 0x1000n, [{ pfn: 1, count: 1 }], RW);
    expect(isErrno(r) ? r.name : "mapped").toBe("ENOMEM");
  });

  it("unknown instance or domain, maps without runs: 0", () => {
    const { log, domain } = withDomain();
    const s = log.state.smmu;
    expect(mapTablePages(s, 1, domain, [page(0n, 1)])).toBe(0);
    expect(mapTablePages(s, 0, 99, [page(0n, 1)])).toBe(0);
    expect(mapTablePages(s, 0, domain, [{ iova: 0n, pfnRuns: [], prot: RW }])).toBe(0);
  });
});

describe("table pages go back to the free list (io-pgtable-arm __arm_lpae_free_pgtable())", () => {
  // PFNs from 1: never 2 MiB aligned with the IOVA, so 4 KiB pages only.
  const pages = (log: Log, domain: number, iova: bigint, count: number) =>
    ok(log, {
      type: "smmu.domain.map",
      data: { instance: 0, domain, iova, pfnRuns: [{ pfn: 1, count }], prot: RW },
    });
  const unmap = (log: Log, domain: number, iova: bigint, length: bigint) =>
    ok(log, { type: "smmu.domain.unmap", data: { instance: 0, domain, iova, length } });

  it("an unmap covering a level-3 table whole (2 MiB) frees it; the next map takes it back", () => {
    const { log, domain } = withDomain();
    pages(log, domain, 0x20_0000n, 1024); // levels 1, 2 and two level-3 tables
    const before = free0(log.state.smmu);
    unmap(log, domain, 0x20_0000n, 0x20_0000n);
    expect(free0(log.state.smmu) - before).toBe(1);
    const freed = log.state.smmu.instances.get(0)!.freeFrames;
    pages(log, domain, 0x20_0000n, 1);
    expect(free0(log.state.smmu)).toBe(before);
    expect(log.state.smmu.instances.get(0)!.freeFrames).toEqual(freed.slice(0, -1));
  });

  it("an unmap covering a level-2 table (1 GiB) frees it with its level-3 tables (3); a partial one nothing", () => {
    const { log, domain } = withDomain();
    pages(log, domain, 0x20_0000n, 1024);
    const before = free0(log.state.smmu);
    unmap(log, domain, 0x20_1000n, 0x1000n);
    expect(free0(log.state.smmu)).toBe(before);
    unmap(log, domain, 0n, GiB);
    expect(free0(log.state.smmu) - before).toBe(3);
  });

  it("freeing a domain gives back its level-0 table and every table under it (1 + 3)", () => {
    const { log, domain } = withDomain();
    pages(log, domain, 0x1000n, 1);
    const before = free0(log.state.smmu);
    ok(log, { type: "smmu.domain.free", data: { instance: 0, domain } });
    expect(free0(log.state.smmu) - before).toBe(4);
  });
});

describe("mapTableBound: a walk-free upper bound from the length", () => {
  it("one page: 3; no page: 0; 513 pages: two tables per level, met at the 512 GiB boundary", () => {
    expect(mapTableBound(1)).toBe(3);
    expect(mapTableBound(0)).toBe(0);
    expect(mapTableBound(513)).toBe(6);
    const { log, domain } = withDomain();
    // PFNs from 1: never 2 MiB aligned with the IOVA, so no block.
    const straddle = { iova: 512n * GiB - 4096n, pfnRuns: [{ pfn: 1, count: 513 }], prot: RW };
    expect(mapTablePages(log.state.smmu, 0, domain, [straddle])).toBe(6);
  });
});

describe("property: exact count = frames mapRange takes ≤ the bound (fast-check)", () => {
  it("holds for random sequences of disjoint maps, blocks included", () => {
    const mapArb = fc.record({
      start: fc.oneof(
        fc.integer({ min: 0, max: 2 ** 22 }),
        fc.integer({ min: 0, max: 2 ** 13 }).map((x) => x * PAGES_2M),
      ),
      pages: fc.integer({ min: 1, max: 1400 }),
    });
    const { log, domain } = withDomain();
    const s0 = log.state.smmu;
    fc.assert(
      fc.property(fc.array(mapArb, { minLength: 1, maxLength: 5 }), (raw) => {
        const maps: TableMap[] = [];
        const taken: [number, number][] = [];
        for (const r of raw) {
          const end = r.start + r.pages;
          if (taken.some(([a, b]) => r.start < b && a < end)) continue;
          taken.push([r.start, end]);
          maps.push({ iova: BigInt(r.start) * 4096n, pfnRuns: [{ pfn: r.start, count: r.pages }], prot: RW });
        }
        const exact = mapTablePages(s0, 0, domain, maps);
        expect(exact).toBe(mapAll(s0, domain, maps).taken);
        const bound = maps.reduce((n, m) => n + mapTableBound(m.pfnRuns[0]!.count), 0);
        expect(exact).toBeLessThanOrEqual(bound);
      }),
      { numRuns: 150 },
    );
  });
});
