import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AnyLayout,
  copyStructFromUser,
  type FieldType,
  isErrno,
  Layout,
  type ScalarType,
} from "../src/index";
import { ALL_LAYOUTS } from "./layouts";

/** Bytes covered by some member (recursively); the rest is implicit C padding. */
function coverage(layout: AnyLayout, base = 0, mask = new Uint8Array(layout.size)): Uint8Array {
  const mark = (t: FieldType, at: number, size: number) => {
    if (t instanceof Layout) coverage(t, at, mask);
    else if (typeof t === "object" && t.elem instanceof Layout) {
      for (let j = 0; j < t.length; j++) coverage(t.elem, at + j * t.elem.size, mask);
    } else mask.fill(1, at, at + size);
  };
  for (const f of layout.fields) mark(f.spec, base + f.offset, f.size);
  return mask;
}

function scalarArb(t: ScalarType): fc.Arbitrary<number | bigint> {
  switch (t) {
    case "u8":
      return fc.integer({ min: 0, max: 0xff });
    case "u16":
      return fc.integer({ min: 0, max: 0xffff });
    case "u32":
      return fc.integer({ min: 0, max: 0xffff_ffff });
    case "s32":
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case "u64":
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    default:
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
  }
}

function valueArb(t: FieldType): fc.Arbitrary<unknown> {
  if (typeof t === "string") return scalarArb(t);
  if (t instanceof Layout) return layoutArb(t);
  if (t.elem === "u8") return fc.uint8Array({ minLength: t.length, maxLength: t.length });
  return fc.array(valueArb(t.elem), { minLength: t.length, maxLength: t.length });
}

function layoutArb(l: AnyLayout): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(Object.fromEntries(l.fields.map((f) => [f.name, valueArb(f.spec)])));
}

function hasOverlap(l: AnyLayout): boolean {
  return (
    l.kind === "union" || l.fields.some((f) => f.inUnion || (f.spec instanceof Layout && hasOverlap(f.spec)))
  );
}

describe("round trips (fast-check), every layout", () => {
  for (const l of ALL_LAYOUTS) {
    const mask = coverage(l);
    it(`${l.name}: encode(decode(bytes)) = bytes (implicit padding zero)`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: l.size, maxLength: l.size }), (raw) => {
          const bytes = raw.map((b, i) => (mask[i] ? b : 0));
          expect(l.encode(l.decode(bytes) as never)).toEqual(bytes);
        }),
        { numRuns: 50 },
      );
    });
    if (!hasOverlap(l)) {
      it(`${l.name}: decode(encode(value)) = value`, () => {
        fc.assert(
          fc.property(layoutArb(l), (v) => {
            expect(l.decode(l.encode(v as never))).toEqual(v);
          }),
          { numRuns: 50 },
        );
      });
    }
  }
});

const IOMMUFD_LAYOUTS = ALL_LAYOUTS.filter((l) => l.source.startsWith("include/uapi/linux/iommufd.h"));

describe("copy_struct_from_user properties, every iommufd struct", () => {
  for (const l of IOMMUFD_LAYOUTS) {
    it(`${l.name}: any size in [min, sizeof] reads the prefix and zero-extends`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: l.minSize, max: l.size }),
          fc.uint8Array({ minLength: l.size, maxLength: l.size }),
          (usize, bytes) => {
            const r = copyStructFromUser(l, bytes, usize, { checkContent: false });
            if (isErrno(r)) throw new Error(String(r));
            const k = new Uint8Array(l.size);
            k.set(bytes.subarray(0, usize));
            expect(r.value).toEqual(l.decode(k));
          },
        ),
        { numRuns: 30 },
      );
    });
    it(`${l.name}: a longer struct is E2BIG exactly when its tail is non-zero`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 1, maxLength: 24 }), (tail) => {
          const b = new Uint8Array(l.size + tail.length);
          b.set(tail, l.size);
          const r = copyStructFromUser(l, b, b.length, { checkContent: false });
          const nonZero = tail.some((x) => x !== 0);
          expect(isErrno(r) && r.name === "E2BIG").toBe(nonZero);
        }),
        { numRuns: 30 },
      );
    });
  }
});
