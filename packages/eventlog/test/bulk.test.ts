import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeCanonical, EpochMap, encodeCanonical, FrameStore, sealEpoch, stateHash } from "../src/index";

/** Frame numbers spread over several radix subtrees, with equal low bits (same cache slot) among them. */
const PFNS = [0, 1, 7, 8, 511, 512, 0x2000000, 0x2000008, 0x7ffff, 2 ** 40 + 3];

type Op =
  | { op: "u32"; f: number; word: number; value: number }
  | { op: "u64"; f: number; word: number; lo: number; hi: number }
  | { op: "drop"; f: number }
  | { op: "seal" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant("u32" as const),
    f: fc.nat(PFNS.length - 1),
    word: fc.nat(1023),
    value: fc.nat(0xffff_ffff),
  }),
  fc.record({
    op: fc.constant("u64" as const),
    f: fc.nat(PFNS.length - 1),
    word: fc.nat(511),
    lo: fc.nat(0xffff_ffff),
    hi: fc.nat(0xffff_ffff),
  }),
  fc.record({ op: fc.constant("drop" as const), f: fc.nat(PFNS.length - 1) }),
  fc.constant({ op: "seal" as const }),
);

/** The reference: each frame's 1024 u32 words, absent = zeros. */
type Model = Map<number, Uint32Array>;

function modelRead(m: Model, pfn: number, word: number): number {
  return m.get(pfn)?.[word] ?? 0;
}

function modelWord(m: Model, pfn: number): Uint32Array {
  let w = m.get(pfn);
  if (w === undefined) {
    w = new Uint32Array(1024);
    m.set(pfn, w);
  }
  return w;
}

function cloneModel(m: Model): Model {
  return new Map([...m].map(([k, v]) => [k, v.slice()]));
}

function expectSame(store: FrameStore, m: Model): void {
  expect(store.frameCount).toBe(m.size);
  for (const pfn of PFNS)
    for (const word of [0, 1, 2, 511, 1022, 1023])
      expect(store.readU32(pfn * 4096 + word * 4)).toBe(modelRead(m, pfn, word));
}

describe("FrameStore: frame cache and epochs", () => {
  it("reads what was written, and a sealed handle keeps its contents while later writes copy (property)", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        let store = FrameStore.empty();
        const model: Model = new Map();
        const kept: { store: FrameStore; model: Model }[] = [];
        for (const o of ops) {
          if (o.op === "seal") {
            sealEpoch();
            kept.push({ store, model: cloneModel(model) });
            continue;
          }
          const pfn = PFNS[o.f]!;
          if (o.op === "u32") {
            store = store.writeU32(pfn * 4096 + o.word * 4, o.value);
            modelWord(model, pfn)[o.word] = o.value;
          } else if (o.op === "u64") {
            store = store.writeU64Halves(pfn * 4096 + o.word * 8, o.lo, o.hi);
            const w = modelWord(model, pfn);
            w[o.word * 2] = o.lo;
            w[o.word * 2 + 1] = o.hi;
          } else {
            store = store.drop(pfn);
            model.delete(pfn);
          }
          // Interleave reads so the cache holds frames when the next write copies or drops them.
          expect(store.readU32(pfn * 4096)).toBe(modelRead(model, pfn, 0));
        }
        expectSame(store, model);
        for (const k of kept) expectSame(k.store, k.model);
      }),
      { numRuns: 300 },
    );
  });

  it("writeU64Halves stores a little-endian u64 from its halves", () => {
    const s = FrameStore.empty().writeU64Halves(0x2000_0008, 0x89ab_cdef, 0x0123_4567);
    expect(s.readU64(0x2000_0008)).toBe(0x0123_4567_89ab_cdefn);
    expect([...s.read(0x2000_0008, 8)]).toEqual([0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01]);
  });
});

type MapOp =
  | { op: "with"; k: number; v: number }
  | { op: "without"; k: number }
  | { op: "clear" }
  | { op: "dropOdd" }
  | { op: "seal" };

const mapOpArb: fc.Arbitrary<MapOp> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant("with" as const), k: fc.nat(12), v: fc.nat(99) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("without" as const), k: fc.nat(12) }) },
  { weight: 1, arbitrary: fc.constant({ op: "clear" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "dropOdd" as const }) },
  { weight: 2, arbitrary: fc.constant({ op: "seal" as const }) },
);

/** The naive reference: entries in insertion order, FIFO eviction when bounded. */
function refApply(ref: [number, number][], o: MapOp, capacity: number | undefined): [number, number][] {
  switch (o.op) {
    case "with": {
      const i = ref.findIndex(([k]) => k === o.k);
      if (capacity === undefined) {
        if (i >= 0) return ref.map(([k, v]) => [k, k === o.k ? o.v : v]);
        return [...ref, [o.k, o.v]];
      }
      if (capacity === 0) return ref;
      let out = i >= 0 ? ref.filter(([k]) => k !== o.k) : ref;
      if (i < 0 && out.length >= capacity) out = out.slice(1);
      return [...out, [o.k, o.v]];
    }
    case "without":
      return ref.filter(([k]) => k !== o.k);
    case "clear":
      return [];
    case "dropOdd":
      return ref.filter(([k]) => k % 2 === 0);
    case "seal":
      return ref;
  }
}

function mapApply(m: EpochMap<number, number>, o: MapOp): EpochMap<number, number> {
  switch (o.op) {
    case "with":
      return m.with(o.k, o.v);
    case "without":
      return m.without(o.k);
    case "clear":
      return m.clear();
    case "dropOdd":
      return m.deleteWhere((k) => k % 2 === 1);
    case "seal":
      sealEpoch();
      return m;
  }
}

describe("EpochMap", () => {
  for (const capacity of [undefined, 0, 1, 4]) {
    it(`matches a naive map ${capacity === undefined ? "(unbounded)" : `bounded to ${capacity} (FIFO)`}, and sealed maps never change (property)`, () => {
      fc.assert(
        fc.property(fc.array(mapOpArb, { maxLength: 50 }), (ops) => {
          let m =
            capacity === undefined
              ? EpochMap.empty<number, number>()
              : EpochMap.bounded<number, number>(capacity);
          let ref: [number, number][] = [];
          const kept: { m: EpochMap<number, number>; ref: [number, number][] }[] = [];
          for (const o of ops) {
            if (o.op === "seal") kept.push({ m, ref });
            m = mapApply(m, o);
            ref = refApply(ref, o, capacity);
            expect([...m.entries()]).toEqual(ref);
          }
          for (const k of kept) expect([...k.m.entries()]).toEqual(k.ref);
        }),
        { numRuns: 200 },
      );
    });
  }

  it("hashes an unbounded map by content, whatever the insertion order", () => {
    const a = EpochMap.empty<number, string>().with(2, "b").with(1, "a");
    const b = EpochMap.empty<number, string>().with(1, "a").with(2, "b");
    expect(stateHash({ t: a })).toBe(stateHash({ t: b }));
  });

  it("keeps a bounded map's insertion order in its hash (it decides the next eviction)", () => {
    const a = EpochMap.bounded<number, string>(2).with(2, "b").with(1, "a");
    const b = EpochMap.bounded<number, string>(2).with(1, "a").with(2, "b");
    expect(stateHash({ t: a })).not.toBe(stateHash({ t: b }));
  });

  it("round-trips through the canonical encoding with its capacity and order", () => {
    const m = EpochMap.bounded<number, bigint>(3).with(9, 1n).with(4, 2n).with(7, 3n).with(5, 4n);
    const back = decodeCanonical(encodeCanonical(m)) as EpochMap<number, bigint>;
    expect(back.capacity).toBe(3);
    expect([...back.entries()]).toEqual([
      [4, 2n],
      [7, 3n],
      [5, 4n],
    ]);
    const t = decodeCanonical(encodeCanonical(EpochMap.empty<number, string>().with(3, "x"))) as EpochMap<
      number,
      string
    >;
    expect(t.capacity).toBeUndefined();
    expect(t.get(3)).toBe("x");
  });

  it("rejects a negative capacity", () => {
    expect(() => EpochMap.bounded(-1)).toThrow(RangeError);
  });
});
