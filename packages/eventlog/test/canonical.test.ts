import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeCanonical,
  deserializeSnapshot,
  encodeCanonical,
  FrameStore,
  sealEpoch,
  serializeSnapshot,
  stateHash,
} from "../src/index";

describe("canonical encoding and stateHash", () => {
  it("ignores key order, Map and Set insertion order, and undefined members", () => {
    const a = {
      x: 1n,
      y: [1, "a"],
      m: new Map([
        [2, "b"],
        [1, "a"],
      ]),
      s: new Set([3, 1]),
      u: undefined,
    };
    const b = {
      s: new Set([1, 3]),
      m: new Map([
        [1, "a"],
        [2, "b"],
      ]),
      y: [1, "a"],
      x: 1n,
    };
    expect(stateHash(a)).toBe(stateHash(b));
  });

  it("distinguishes number from bigint, 0 from -0 and typed-array kinds", () => {
    expect(stateHash(1)).not.toBe(stateHash(1n));
    expect(stateHash(0)).not.toBe(stateHash(-0));
    expect(stateHash(new Uint8Array(4))).not.toBe(stateHash(new Uint32Array(1)));
  });

  it("is a known SHA-256 for a known value (stable across machines)", () => {
    // SHA-256 computed independently with Python hashlib over bytes: Tag.Object(11), 1 key, "a" (len 1, 0x61), Tag.UInt(4), 1
    expect([...encodeCanonical({ a: 1 })]).toEqual([11, 1, 1, 0x61, 4, 1]);
    expect(stateHash({ a: 1 })).toBe("e8609526b4225d0df01ea47de68e7384a593115ec0c64f52a2321235c130e6ec");
  });

  it("round-trips arbitrary JSON-like values with bigints", () => {
    const value = fc.letrec((tie) => ({
      leaf: fc.oneof(fc.integer(), fc.bigInt(), fc.string(), fc.boolean(), fc.constant(null), fc.double()),
      node: fc.oneof(fc.array(tie("any")), fc.dictionary(fc.string(), tie("any"))),
      any: fc.oneof({ depthSize: "small" }, tie("leaf"), tie("node")),
    })).any;
    fc.assert(
      fc.property(value, (v) => {
        expect(stateHash(decodeCanonical(encodeCanonical(v)))).toBe(stateHash(v));
      }),
    );
  });

  it("refuses class instances that are not bulk structures", () => {
    expect(() => encodeCanonical({ d: new Date(0) })).toThrow(TypeError);
  });

  it("round-trips a snapshot holding a FrameStore at about 4 KiB per frame", () => {
    let fs = FrameStore.empty();
    for (let i = 0; i < 64; i++) fs = fs.writeU64(i * 4096 * 1000 + 8, BigInt(i) * 0x1_0000_0001n);
    const bytes = serializeSnapshot({ seq: 7, state: { mem: fs, ids: new Map([[1, "a"]]) } });
    expect(bytes.length).toBeLessThan(64 * (4096 + 16) + 64);
    const back = deserializeSnapshot<{ mem: FrameStore }>(bytes);
    expect(back.seq).toBe(7);
    expect(back.state.mem.readU64(5 * 4096 * 1000 + 8)).toBe(5n * 0x1_0000_0001n);
    expect(stateHash(back.state)).toBe(stateHash({ mem: fs, ids: new Map([[1, "a"]]) }));
  });
});

describe("FrameStore", () => {
  it("reads zeros where nothing was written, without allocating", () => {
    const fs = FrameStore.empty();
    expect(fs.readU64(0x12345000)).toBe(0n);
    expect([...fs.read(4090, 10)]).toEqual(new Array(10).fill(0));
    expect(fs.frameCount).toBe(0);
  });

  it("writes across frame boundaries and grows to high frame numbers", () => {
    let fs = FrameStore.empty();
    fs = fs.write(4094, Uint8Array.from([1, 2, 3, 4]));
    fs = fs.writeU32(2 ** 45, 0xdeadbeef);
    expect([...fs.read(4093, 6)]).toEqual([0, 1, 2, 3, 4, 0]);
    expect(fs.readU32(2 ** 45)).toBe(0xdeadbeef);
    expect(fs.frameCount).toBe(3);
    expect([...fs.frames()].map(([pfn]) => pfn)).toEqual([0, 1, 2 ** 33]);
  });

  it("writes in place until sealed, then copies only the touched path", () => {
    let fs = FrameStore.empty();
    fs = fs.writeU32(0, 1);
    const same = fs.writeU32(4, 2);
    expect(same).toBe(fs);
    sealEpoch();
    const old = same;
    const next = old.writeU32(0, 99).writeU32(4096 * 700, 5);
    expect(next).not.toBe(old);
    expect(old.readU32(0)).toBe(1);
    expect(old.readU32(4096 * 700)).toBe(0);
    expect(old.frameCount).toBe(1);
    expect(next.readU32(0)).toBe(99);
    expect(next.readU32(4)).toBe(2);
    expect(next.frameCount).toBe(2);
  });

  it("drop forgets a frame without touching a sealed copy", () => {
    let fs = FrameStore.empty().writeU32(8192, 7);
    sealEpoch();
    const kept = fs;
    fs = fs.drop(2);
    expect(fs.readU32(8192)).toBe(0);
    expect(fs.frameCount).toBe(0);
    expect(kept.readU32(8192)).toBe(7);
  });

  it("rejects frame numbers beyond 2^52", () => {
    expect(() => FrameStore.empty().edit(2 ** 52, () => {})).toThrow(RangeError);
  });
});

describe("canonical decoding of hostile keys", () => {
  it("keeps a '__proto__' key as data and never changes the prototype", () => {
    const v = JSON.parse('{"__proto__": {"polluted": true}, "a": 2}');
    const back = decodeCanonical(encodeCanonical(v)) as Record<string, unknown>;
    expect(Object.keys(back)).toEqual(["__proto__", "a"]);
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(stateHash(back)).toBe(stateHash(v));
  });
});
