/**
 * Property test: random MAP_DMA / UNMAP_DMA / UNMAP_ALL sequences on a
 * TYPE1v2 container with a mock domain, against a naive model of type1v2
 * semantics (Linux vfio_compat.c → io_pagetable.c): a map over any mapped
 * byte is EEXIST; an unmap must cover whole mappings (ENOENT when it
 * covers none or cuts one; the model's iopt is all or nothing) and answers
 * the bytes removed; UNMAP_ALL removes everything. And a TYPE1 (v1)
 * container against a naive page set: an unmap removes whatever pages of
 * the range are mapped (cutting mappings, iopt_cut_iova()) and answers
 * their bytes, ENOENT when none is.
 */
import { checkInvariants } from "@iommu-sim/iopt";
import { VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Container, PAGE } from "./harness";

const BASE = 0x100_0000n;
const WINDOW = 16; // pages of the process buffer and of IOVA space used

type Op =
  | { kind: "map"; page: number; pages: number }
  | { kind: "unmap"; page: number; pages: number }
  | { kind: "all" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("map" as const),
    page: fc.nat(WINDOW - 1),
    pages: fc.integer({ min: 1, max: 4 }),
  }),
  fc.record({
    kind: fc.constant("unmap" as const),
    page: fc.nat(WINDOW - 1),
    pages: fc.integer({ min: 1, max: 8 }),
  }),
  fc.constant({ kind: "all" as const }),
);

/** The naive model: mapped [first, last] page ranges. */
class Reference {
  areas: [number, number][] = [];

  map(page: number, pages: number): number {
    const last = page + pages - 1;
    if (page + pages > WINDOW) return -1; // not generated into the buffer's end: skipped by the caller
    if (this.areas.some(([a, b]) => a <= last && b >= page)) return -17; // EEXIST
    this.areas.push([page, last]);
    return 0;
  }

  unmap(page: number, pages: number): [number, bigint] {
    const last = page + pages - 1;
    const hit = this.areas.filter(([a, b]) => a <= last && b >= page);
    if (hit.length === 0 || hit.some(([a, b]) => a < page || b > last)) return [-2, 0n]; // ENOENT
    this.areas = this.areas.filter((x) => !hit.includes(x));
    return [0, BigInt(hit.reduce((n, [a, b]) => n + b - a + 1, 0)) * PAGE];
  }

  all(): [number, bigint] {
    const n = this.areas.reduce((s, [a, b]) => s + b - a + 1, 0);
    this.areas = [];
    return [0, BigInt(n) * PAGE];
  }
}

describe("MAP_DMA / UNMAP_DMA against a naive type1v2 model", () => {
  it("answers and areas agree after every command", () => {
    const outcomes = new Set<string>();
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 24 }), (ops) => {
        const { c, ioas } = Container.withMockDomain(VFIO_TYPE1v2_IOMMU);
        const kobj = c.state.iommufd.contexts[c.ctx]!.objects[ioas]!.kobj!;
        const ref = new Reference();
        for (const op of ops) {
          if (op.kind === "map") {
            if (op.page + op.pages > WINDOW) continue;
            const want = ref.map(op.page, op.pages);
            const iova = BASE + BigInt(op.page) * PAGE;
            expect(c.mapDma(c.buffer + BigInt(op.page) * PAGE, iova, BigInt(op.pages) * PAGE)).toBe(want);
            outcomes.add(`map ${want}`);
          } else if (op.kind === "unmap") {
            const want = ref.unmap(op.page, op.pages);
            expect(c.unmapDma(BASE + BigInt(op.page) * PAGE, BigInt(op.pages) * PAGE)).toEqual(want);
            outcomes.add(`unmap ${want[0]}`);
          } else {
            expect(c.unmapDma(0n, 0n, 2)).toEqual(ref.all());
          }
          const areas = ref.areas
            .slice()
            .sort((x, y) => x[0] - y[0])
            .map(([a, b]) => [BASE + BigInt(a) * PAGE, BASE + BigInt(b + 1) * PAGE - 1n]);
          expect(c.areas(kobj)).toEqual(areas);
          expect(checkInvariants(c.state)).toEqual([]);
        }
      }),
      { numRuns: 60, seed: 9 },
    );
    // the runs reached every outcome of both commands
    expect([...outcomes].sort()).toEqual(["map -17", "map 0", "unmap -2", "unmap 0"]);
  });
});

/** The naive type1 (v1) model: the set of mapped pages; an unmap may cut anywhere. */
class PageSet {
  mapped = new Set<number>();

  map(page: number, pages: number): number {
    for (let p = page; p < page + pages; p++) if (this.mapped.has(p)) return -17; // EEXIST
    for (let p = page; p < page + pages; p++) this.mapped.add(p);
    return 0;
  }

  unmap(page: number, pages: number): [number, bigint] {
    let n = 0;
    for (let p = page; p < page + pages; p++) if (this.mapped.delete(p)) n++;
    return n === 0 ? [-2, 0n] : [0, BigInt(n) * PAGE]; // ENOENT when nothing was mapped
  }

  all(): [number, bigint] {
    const n = this.mapped.size;
    this.mapped.clear();
    return [0, BigInt(n) * PAGE];
  }
}

describe("MAP_DMA / UNMAP_DMA against a naive type1 (v1) model", () => {
  it("answers and mapped pages agree after every command", () => {
    const outcomes = new Set<string>();
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 24 }), (ops) => {
        const { c, ioas } = Container.withMockDomain(VFIO_TYPE1_IOMMU);
        const kobj = c.state.iommufd.contexts[c.ctx]!.objects[ioas]!.kobj!;
        const ref = new PageSet();
        for (const op of ops) {
          if (op.kind === "map") {
            if (op.page + op.pages > WINDOW) continue;
            const want = ref.map(op.page, op.pages);
            const iova = BASE + BigInt(op.page) * PAGE;
            expect(c.mapDma(c.buffer + BigInt(op.page) * PAGE, iova, BigInt(op.pages) * PAGE)).toBe(want);
            outcomes.add(`map ${want}`);
          } else if (op.kind === "unmap") {
            const want = ref.unmap(op.page, op.pages);
            expect(c.unmapDma(BASE + BigInt(op.page) * PAGE, BigInt(op.pages) * PAGE)).toEqual(want);
            outcomes.add(`unmap ${want[0]}`);
          } else {
            expect(c.unmapDma(0n, 0n, 2)).toEqual(ref.all());
          }
          const pages = new Set<number>();
          for (const [a, b] of c.areas(kobj))
            for (let iova = a; iova < b; iova += PAGE) pages.add(Number((iova - BASE) / PAGE));
          expect([...pages].sort((x, y) => x - y)).toEqual([...ref.mapped].sort((x, y) => x - y));
          expect(checkInvariants(c.state)).toEqual([]);
        }
      }),
      { numRuns: 60, seed: 9 },
    );
    expect([...outcomes].sort()).toEqual(["map -17", "map 0", "unmap -2", "unmap 0"]);
  });
});
