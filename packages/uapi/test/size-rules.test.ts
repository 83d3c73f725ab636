import { describe, expect, it } from "vitest";
import {
  type AnyLayout,
  copyStructFromUser,
  copyToUser,
  type Errno,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMUFD_IOCTL_OPS,
  iommufdCopyIn,
  iommuIoasMap,
  isErrno,
} from "../src/index";
import { ALL_LAYOUTS } from "./layouts";

const IOMMUFD_LAYOUTS = ALL_LAYOUTS.filter((l) => l.source.startsWith("include/uapi/linux/iommufd.h"));

function errName(x: unknown): string | undefined {
  return isErrno(x) ? (x as Errno).name : undefined;
}

/** A user buffer of `len` bytes whose leading `size` member (if any) says `usize`. */
function userStruct(layout: AnyLayout, len: number, usize: number): Uint8Array {
  const b = new Uint8Array(len);
  if (layout.field("size")?.offset === 0) new DataView(b.buffer).setUint32(0, usize, true);
  return b;
}

/** A non-zero value that is not a defined flag (highest undefined bit of a 32-bit flags word). */
function unknownFlag(known: number): number {
  for (let bit = 31; bit >= 0; bit--) if ((known & (1 << bit)) === 0) return (1 << bit) >>> 0;
  throw new Error("no free bit");
}

describe("copy_struct_from_user rules, every iommufd struct", () => {
  for (const l of IOMMUFD_LAYOUTS) {
    describe(l.name, () => {
      it(`size below the minimum (${l.minSize}) → EINVAL`, () => {
        expect(errName(copyStructFromUser(l, userStruct(l, l.size, l.minSize - 1), l.minSize - 1))).toBe(
          "EINVAL",
        );
      });
      it("exact size → accepted", () => {
        const r = copyStructFromUser(l, userStruct(l, l.size, l.size));
        expect(isErrno(r)).toBe(false);
      });
      it("shorter than the kernel struct → zero-extended (bytes past the size are not read)", () => {
        const b = userStruct(l, l.size, l.minSize);
        b.fill(0xee, l.minSize); // garbage after the declared size
        const r = copyStructFromUser(l, b, l.minSize, { checkContent: false });
        if (isErrno(r)) throw new Error(String(r));
        const expected = new Uint8Array(l.size);
        expected.set(b.subarray(0, l.minSize));
        expect(r.value).toEqual(l.decode(expected));
      });
      it("longer with a zero tail → accepted", () => {
        const r = copyStructFromUser(l, userStruct(l, l.size + 16, l.size + 16));
        expect(isErrno(r)).toBe(false);
      });
      it("longer with a non-zero tail → E2BIG", () => {
        const b = userStruct(l, l.size + 16, l.size + 16);
        b[l.size + 15] = 1;
        expect(errName(copyStructFromUser(l, b))).toBe("E2BIG");
      });
      it("declared size larger than the readable buffer → EFAULT", () => {
        expect(errName(copyStructFromUser(l, userStruct(l, l.size, l.size + 8), l.size + 8))).toBe("EFAULT");
      });
      for (const f of l.reservedFields) {
        it(`non-zero ${f.name} → EOPNOTSUPP`, () => {
          const b = userStruct(l, l.size, l.size);
          b[f.offset + f.size - 1] = 0x80;
          expect(errName(copyStructFromUser(l, b))).toBe("EOPNOTSUPP");
        });
      }
      if (l.knownFlags !== undefined && l.flagsField !== undefined) {
        const known = l.knownFlags;
        const off = l.offsetOf(l.flagsField);
        it(`unknown ${l.flagsField} bits → EOPNOTSUPP; known ones accepted`, () => {
          const b = userStruct(l, l.size, l.size);
          new DataView(b.buffer).setUint32(off, unknownFlag(known), true);
          expect(errName(copyStructFromUser(l, b))).toBe("EOPNOTSUPP");
          new DataView(b.buffer).setUint32(off, known, true);
          expect(isErrno(copyStructFromUser(l, b))).toBe(false);
        });
      }
    });
  }
});

describe("iommufdCopyIn (iommufd_fops_ioctl)", () => {
  it("covers every op and reads the size from the struct", () => {
    for (const op of IOMMUFD_IOCTL_OPS) {
      const b = userStruct(op.layout, op.size, op.size);
      const r = iommufdCopyIn(op.ioctl, b);
      if (isErrno(r)) throw new Error(`${op.name}: ${r}`);
      expect(r.op).toBe(op);
      expect(r.userSize).toBe(op.size);
      expect(errName(iommufdCopyIn(op.ioctl, userStruct(op.layout, op.size, op.minSize - 1)))).toBe("EINVAL");
    }
  });
  it("unknown command → ENOTTY; fewer than 4 readable bytes → EFAULT", () => {
    expect(errName(iommufdCopyIn(0x3b7f, new Uint8Array(64)))).toBe("ENOTTY");
    expect(errName(iommufdCopyIn(0x3b85, new Uint8Array(3)))).toBe("EFAULT");
  });
  it("decodes an IOMMU_IOAS_MAP with 64-bit fields as bigint", () => {
    const bytes = iommuIoasMap.encode({
      size: 40,
      flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
      ioas_id: 2,
      user_va: 0x7fff_0000_1000n,
      length: 0x20_0000n,
      iova: 0xffff_ffff_ffff_f000n,
    });
    const r = iommufdCopyIn(0x3b85, bytes);
    if (isErrno(r)) throw new Error(String(r));
    expect(r.value).toEqual({
      size: 40,
      flags: 7,
      ioas_id: 2,
      __reserved: 0,
      user_va: 0x7fff_0000_1000n,
      length: 0x20_0000n,
      iova: 0xffff_ffff_ffff_f000n,
    });
  });
});

describe("response rule: copy back min(user size, kernel size)", () => {
  const v = { size: 40, ioas_id: 1, iova: 0x1000n };
  it("a shorter user struct gets only its bytes", () => {
    expect(copyToUser(iommuIoasMap, v, 32).length).toBe(32);
  });
  it("a longer user struct gets the kernel's bytes only", () => {
    const out = copyToUser(iommuIoasMap, v, 64);
    expect(out.length).toBe(40);
    expect(new DataView(out.buffer).getBigUint64(32, true)).toBe(0x1000n);
  });
});
