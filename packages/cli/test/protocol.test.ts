/**
 * The frame codec (docs/protocol.md): frames survive any split of the
 * byte stream; impossible lengths are refused; the HELLO reply layout.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeHello,
  encodeFrame,
  encodeHelloReply,
  encodeResult,
  type Frame,
  FrameDecoder,
  MAX_FRAME,
} from "../src/daemon/protocol";

describe("FrameDecoder", () => {
  it("decodes any sequence of frames however the stream is split", () => {
    const frameArb = fc.record({
      type: fc.integer({ min: 0, max: 0xffff }),
      tag: fc.integer({ min: 0, max: 0xffff_ffff }),
      body: fc.uint8Array({ maxLength: 200 }),
    });
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 64 })),
        (frames, cuts) => {
          const bytes = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.tag, f.body)));
          const d = new FrameDecoder();
          const got: { type: number; tag: number; body: number[] }[] = [];
          let at = 0;
          let i = 0;
          while (at < bytes.length) {
            const n = cuts.length > 0 ? cuts[i++ % cuts.length]! : bytes.length;
            d.push(bytes.subarray(at, at + n));
            at += n;
            for (let f = d.next(); f !== undefined; f = d.next()) {
              if ("error" in f) throw new Error(f.error);
              got.push({ type: f.type, tag: f.tag, body: [...(f as Frame).body] });
            }
          }
          expect(got).toEqual(frames.map((f) => ({ type: f.type, tag: f.tag, body: [...f.body] })));
        },
      ),
      { numRuns: 200, seed: 11 },
    );
  });

  it.each([0, 4, 11, MAX_FRAME + 1, 0xffff_ffff])("refuses a frame length of %d", (length) => {
    const d = new FrameDecoder();
    const b = new Uint8Array(12);
    new DataView(b.buffer).setUint32(0, length, true);
    d.push(b);
    expect(d.next()).toHaveProperty("error");
  });

  it("waits for the rest of a frame", () => {
    const d = new FrameDecoder();
    d.push(encodeFrame(4, 7, new Uint8Array(16)).subarray(0, 27));
    expect(d.next()).toBeUndefined();
  });
});

describe("encodings", () => {
  it("a result reply: header with type | 0x8000 and the tag, then an i64", () => {
    expect([...encodeResult(4, 0x01020304, -25)]).toEqual([
      20, 0, 0, 0, 0x04, 0x80, 0, 0, 0x04, 0x03, 0x02, 0x01, 0xe7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ]);
  });

  it("a result reply's i64 is little-endian two's complement for any number or bigint in range", () => {
    // 2^32 + 5 and −(2^53 − 1) as numbers; the i64 extremes and an fd-sized value as bigints.
    expect([...encodeResult(1, 0, 2 ** 32 + 5).subarray(12)]).toEqual([5, 0, 0, 0, 1, 0, 0, 0]);
    expect([...encodeResult(1, 0, -(2 ** 53 - 1)).subarray(12)]).toEqual([1, 0, 0, 0, 0, 0, 0xe0, 0xff]);
    expect([...encodeResult(1, 0, -(2n ** 63n)).subarray(12)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0x80]);
    expect([...encodeResult(1, 0, 2n ** 63n - 1n).subarray(12)]).toEqual([
      255, 255, 255, 255, 255, 255, 255, 0x7f,
    ]);
    fc.assert(
      fc.property(
        fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.maxSafeInteger(), fc.integer()),
        (v) => {
          const body = encodeResult(1, 0, v).subarray(12);
          expect(new DataView(body.slice().buffer).getBigInt64(0, true)).toBe(BigInt(v));
        },
      ),
    );
  });

  it("the HELLO reply: status, version, reason, namespace", () => {
    const f = encodeHelloReply(5, -13, "no", ["/dev/iommu", "/dev/vfio/"]);
    expect([...f.subarray(12)]).toEqual([
      0xf3,
      0xff,
      0xff,
      0xff,
      2, // version 2 (docs/protocol.md, "Versioning")
      0,
      0,
      0,
      2,
      0,
      0x6e,
      0x6f,
      2,
      0,
      10,
      0,
      ...Buffer.from("/dev/iommu"),
      10,
      0,
      ...Buffer.from("/dev/vfio/"),
    ]);
  });

  it("a HELLO body is 40 bytes; shorter is refused", () => {
    const b = new Uint8Array(40);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, 1, true);
    dv.setUint32(4, 4242, true);
    dv.setBigUint64(8, 0x7ffd_0000_1000n, true);
    b.fill(9, 16, 32);
    dv.setBigUint64(32, 3n, true);
    expect(decodeHello(b)).toEqual({
      version: 1,
      pid: 4242,
      nonceVa: 0x7ffd_0000_1000n,
      nonce: new Uint8Array(16).fill(9),
      forkToken: 3n,
    });
    expect(decodeHello(b.subarray(0, 39))).toBeUndefined();
  });
});
