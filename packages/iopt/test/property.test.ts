/**
 * Property test: random sequences of map / unmap / copy / attach / detach
 * and access pin / unpin over two IOASes, against a naive model (a plain list of areas per IOAS,
 * each remembering its user VA and which map created its pages). After
 * each step the real state must have the model's areas, every domain must
 * map each area to the user pages' physical addresses, every page's pin
 * count must equal the number of distinct mapped page-sets over it in an
 * IOAS with a domain or held by an access pin (unmaps release the pins they
 * cross), and every invariant must hold (the fixture checks).
 */
import { IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_WRITEABLE, isErrno } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BUFFER_VA, PAGE, MOCK_APERTURE_START as S, Sim } from "./fixture";

interface ModelArea {
  iova: bigint;
  length: bigint;
  va: bigint;
  pages: number;
}

type Op =
  | { op: "map"; ioas: number; k: number; len: number; voff: number }
  | { op: "unmap"; ioas: number; k: number; len: number }
  | { op: "copy"; src: number; dst: number; k: number; len: number; kd: number }
  | { op: "attach"; ioas: number }
  | { op: "detach"; ioas: number }
  | { op: "pin"; ioas: number; k: number; len: number }
  | { op: "unpin"; ioas: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant("map" as const),
    ioas: fc.nat(1),
    k: fc.nat(24),
    len: fc.integer({ min: 1, max: 4 }),
    voff: fc.nat(12),
  }),
  fc.record({
    op: fc.constant("unmap" as const),
    ioas: fc.nat(1),
    k: fc.nat(24),
    len: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({
    op: fc.constant("copy" as const),
    src: fc.nat(1),
    dst: fc.nat(1),
    k: fc.nat(24),
    len: fc.integer({ min: 1, max: 4 }),
    kd: fc.nat(24),
  }),
  fc.record({ op: fc.constant("attach" as const), ioas: fc.nat(1) }),
  fc.record({ op: fc.constant("detach" as const), ioas: fc.nat(1) }),
  fc.record({
    op: fc.constant("pin" as const),
    ioas: fc.nat(1),
    k: fc.nat(24),
    len: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({ op: fc.constant("unpin" as const), ioas: fc.nat(1) }),
);

interface ModelPin {
  id: number;
  iova: bigint;
  length: bigint;
  slices: ModelArea[];
}

class Model {
  areas: ModelArea[][] = [[], []];
  domains: number[][] = [[], []];
  /** Access pins per IOAS (one access per IOAS). */
  pins: ModelPin[][] = [[], []];
  nextPin = 1;
  private nextPages = 1;

  free(ioas: number, iova: bigint, length: bigint): boolean {
    return !this.areas[ioas]!.some((a) => a.iova < iova + length && iova < a.iova + a.length);
  }

  /** Contiguous coverage of [iova, iova+length) as slices, or undefined. */
  cover(ioas: number, iova: bigint, length: bigint): ModelArea[] | undefined {
    const out: ModelArea[] = [];
    let cur = iova;
    const end = iova + length;
    while (cur < end) {
      const a = this.areas[ioas]!.find((x) => x.iova <= cur && cur < x.iova + x.length);
      if (a === undefined) return undefined;
      const areaEnd = a.iova + a.length;
      let stop = areaEnd;
      if (end < stop) stop = end;
      out.push({ iova: cur, length: stop - cur, va: a.va + (cur - a.iova), pages: a.pages });
      cur = stop;
    }
    return out;
  }

  newPages(): number {
    return this.nextPages++;
  }

  /** Expected pin count of buffer page `p`: distinct page-sets over it in IOASes with domains or held by a pin. */
  refs(p: bigint): number {
    const sets = new Set<number>();
    for (const pins of this.pins)
      for (const pin of pins)
        for (const a of pin.slices) {
          const first = (a.va - BUFFER_VA) / PAGE;
          const last = (a.va + a.length - 1n - BUFFER_VA) / PAGE;
          if (p >= first && p <= last) sets.add(a.pages);
        }
    for (let i = 0; i < 2; i++) {
      if (this.domains[i]!.length === 0) continue;
      for (const a of this.areas[i]!) {
        const first = (a.va - BUFFER_VA) / PAGE;
        const last = (a.va + a.length - 1n - BUFFER_VA) / PAGE;
        if (p >= first && p <= last) sets.add(a.pages);
      }
    }
    return sets.size;
  }
}

function step(sim: Sim, ioases: number[], accesses: number[], m: Model, o: Op): void {
  const flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE;
  switch (o.op) {
    case "map": {
      const iova = S + BigInt(o.k) * PAGE;
      const length = BigInt(o.len) * PAGE;
      const va = BUFFER_VA + BigInt(o.voff) * PAGE;
      const r = sim.dispatch(sim.mapCmd(ioases[o.ioas]!, va, length, iova));
      const ok = m.free(o.ioas, iova, length);
      expect(isErrno(r) ? r.name : "ok").toBe(ok ? "ok" : "EEXIST");
      if (ok) m.areas[o.ioas]!.push({ iova, length, va, pages: m.newPages() });
      return;
    }
    case "unmap": {
      const iova = S + BigInt(o.k) * PAGE;
      const length = BigInt(o.len) * PAGE;
      const hit = m.areas[o.ioas]!.filter((a) => a.iova < iova + length && iova < a.iova + a.length);
      const ok = hit.length > 0 && hit.every((a) => a.iova >= iova && a.iova + a.length <= iova + length);
      const r = sim.dispatch(sim.unmapCmd(ioases[o.ioas]!, iova, length));
      expect(isErrno(r) ? r.name : "ok").toBe(ok ? "ok" : "ENOENT");
      if (ok) {
        m.areas[o.ioas] = m.areas[o.ioas]!.filter((a) => !hit.includes(a));
        m.pins[o.ioas] = m.pins[o.ioas]!.filter(
          (pin) => !hit.some((a) => a.iova < pin.iova + pin.length && pin.iova < a.iova + a.length),
        );
      }
      return;
    }
    case "copy": {
      const srcIova = S + BigInt(o.k) * PAGE;
      const dstIova = S + BigInt(o.kd) * PAGE;
      const length = BigInt(o.len) * PAGE;
      const slices = m.cover(o.src, srcIova, length);
      const r = sim.dispatch({
        type: "ioas.copy",
        data: { dstIoas: ioases[o.dst]!, srcIoas: ioases[o.src]!, srcIova, dstIova, length, flags },
      });
      const expected = slices === undefined ? "ENOENT" : !m.free(o.dst, dstIova, length) ? "EEXIST" : "ok";
      expect(isErrno(r) ? r.name : "ok").toBe(expected);
      if (expected === "ok") {
        let at = dstIova;
        for (const s of slices!) {
          m.areas[o.dst]!.push({ ...s, iova: at });
          at += s.length;
        }
      }
      return;
    }
    case "attach":
      if (m.domains[o.ioas]!.length >= 2) return;
      m.domains[o.ioas]!.push(sim.mockDomain(ioases[o.ioas]!));
      return;
    case "detach": {
      const d = m.domains[o.ioas]!.pop();
      if (d !== undefined) sim.destroyDomain(ioases[o.ioas]!, d);
      return;
    }
    case "pin": {
      const iova = S + BigInt(o.k) * PAGE;
      const length = BigInt(o.len) * PAGE;
      const slices = m.cover(o.ioas, iova, length);
      const id = m.nextPin++;
      const r = sim.dispatch({
        type: "iopt.access.pin",
        data: { access: accesses[o.ioas]!, pin: id, iova, length, write: false },
      });
      expect(isErrno(r) ? r.name : "ok").toBe(slices === undefined ? "ENOENT" : "ok");
      if (slices !== undefined) m.pins[o.ioas]!.push({ id, iova, length, slices });
      return;
    }
    case "unpin": {
      const pin = m.pins[o.ioas]!.shift();
      if (pin !== undefined)
        sim.ok({ type: "iopt.access.unpin", data: { access: accesses[o.ioas]!, pin: pin.id } });
      return;
    }
  }
}

function compare(sim: Sim, ioases: number[], m: Model): void {
  for (let i = 0; i < 2; i++) {
    const got = sim.state.iopt.ioas.get(ioases[i]!)!.areas.map((a) => [a.iova, a.last - a.iova + 1n]);
    const want = [...m.areas[i]!].sort((a, b) => (a.iova < b.iova ? -1 : 1)).map((a) => [a.iova, a.length]);
    expect(got).toEqual(want);
    for (const d of m.domains[i]!) for (const a of m.areas[i]!) sim.checkMap(d, a.iova, a.length, a.va);
  }
  for (let p = 0n; p < 16n; p++) sim.checkRefs(BUFFER_VA + p * PAGE, PAGE, m.refs(p));
}

describe("property: map/unmap/copy/attach/detach/pin/unpin against a naive model", () => {
  it("agrees with the model after every step", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 25 }), (ops) => {
        const sim = new Sim();
        const ioases = [sim.ioasAlloc(), sim.ioasAlloc()];
        const accesses = ioases.map((ioas) => {
          const access = sim.id();
          sim.ok({ type: "iopt.access.create", data: { access, ioas } });
          return access;
        });
        const m = new Model();
        for (const o of ops) {
          step(sim, ioases, accesses, m, o);
          compare(sim, ioases, m);
        }
      }),
      { numRuns: 120, seed: 0x10b7 },
    );
  });
});
