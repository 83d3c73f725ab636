import { describe, expect, it } from "vitest";
import {
  _IO,
  _IOC_DIR,
  _IOC_NONE,
  _IOC_NR,
  _IOC_READ,
  _IOC_SIZE,
  _IOC_TYPE,
  _IOC_WRITE,
  _IOR,
  _IOW,
  _IOWR,
  array,
  defineStruct,
  defineUnion,
  field,
  formatIoctl,
  IOMMU_TEST_CMD,
  IOMMU_TEST_OP,
  IOMMU_TEST_OP_MEMBER,
  iommuHwInfo,
  iommuHwInfoArmSmmuv3,
  iommuTestCmd,
  MOCK_APERTURE_LAST,
  MOCK_APERTURE_START,
  MOCK_IO_PAGE_SIZE,
  MOCK_PASID_WIDTH,
  reserved,
  union,
} from "../src/index";

describe("ioctl encoding (asm-generic/ioctl.h)", () => {
  it("matches well-known Linux request numbers", () => {
    expect(_IO(";", 0x80)).toBe(0x3b80); // IOMMU_DESTROY
    expect(_IO(0xae, 0x01)).toBe(0xae01); // KVM_CREATE_VM
    expect(_IOR("E", 0x01, 4)).toBe(0x80044501); // EVIOCGVERSION
    expect(_IOW(0xae, 0x46, 32)).toBe(0x4020ae46); // KVM_SET_USER_MEMORY_REGION
    expect(_IOWR(0xae, 0x02, 4)).toBe(0xc004ae02); // KVM_GET_MSR_INDEX_LIST
  });
  it("decodes the fields back", () => {
    const cmd = _IOWR(";", 0x85, 40);
    expect([_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd), _IOC_SIZE(cmd)]).toEqual([
      _IOC_READ | _IOC_WRITE,
      0x3b,
      0x85,
      40,
    ]);
    expect(_IOC_DIR(_IO(";", 1))).toBe(_IOC_NONE);
    expect(_IOC_DIR(_IOW(";", 1, 1))).toBe(_IOC_WRITE);
    expect(formatIoctl(0x3b80)).toBe("0x00003b80");
  });
  it("rejects fields that do not fit", () => {
    expect(() => _IO(";", 256)).toThrow(RangeError);
    expect(() => _IOR(";", 1, 1 << 14)).toThrow(RangeError);
    expect(() => _IO("ab", 1)).toThrow(RangeError);
  });
});

describe("selftest interface (iommufd_test.h)", () => {
  it("IOMMU_TEST_CMD = _IO(';', 0x80 + 32)", () => {
    expect(IOMMU_TEST_CMD).toBe(0x3ba0);
  });
  it("operations are numbered 1..21 in header order, each with its union member", () => {
    expect(Object.values(IOMMU_TEST_OP)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    for (const member of Object.values(IOMMU_TEST_OP_MEMBER)) expect(iommuTestCmd.offsetOf(member)).toBe(16);
  });
  it("mock constants", () => {
    expect([MOCK_APERTURE_START, MOCK_APERTURE_LAST, MOCK_PASID_WIDTH, MOCK_IO_PAGE_SIZE]).toEqual([
      0x100_0000, 0x7fff_ffff, 20, 2048,
    ]);
  });
  it("encodes one union member and decodes all of them from the same bytes", () => {
    const bytes = iommuTestCmd.encode({
      size: 72,
      op: IOMMU_TEST_OP.IOMMU_TEST_OP_ADD_RESERVED,
      add_reserved: { start: 0x1000n, length: 0x2000n },
    });
    const v = iommuTestCmd.decode(bytes);
    expect(v.add_reserved).toEqual({ start: 0x1000n, length: 0x2000n });
    expect(v.check_map.iova).toBe(0x1000n);
    expect(v.mock_domain.out_stdev_id).toBe(0x1000);
  });
});

describe("layout engine", () => {
  it("computes C natural alignment, arrays, nested structs and unions", () => {
    const inner = defineStruct("t_inner", [field("a", "u8"), field("b", "u64")], { source: "test" });
    const u = defineUnion("t_u", [field("x", "u32"), field("y", array("u16", 3))], { source: "test" });
    const outer = defineStruct(
      "t_outer",
      [
        field("c", "u8"),
        field("in", inner),
        field("u", u),
        union([field("p", "u8"), field("q", "u64")]),
        reserved("pad", array("u8", 3)),
        field("arr", array(inner, 2)),
      ],
      { source: "test" },
    );
    expect([inner.size, inner.align, inner.offsetOf("b")]).toEqual([16, 8, 8]);
    expect([u.size, u.align]).toEqual([8, 4]);
    expect(outer.fields.map((f) => [f.name, f.offset])).toEqual([
      ["c", 0],
      ["in", 8],
      ["u", 24],
      ["p", 32],
      ["q", 32],
      ["pad", 40],
      ["arr", 48],
    ]);
    expect(outer.size).toBe(80);
    expect(outer.reservedFields.map((f) => f.name)).toEqual(["pad"]);
  });

  it("decodes u64 as bigint, s32 negative, arrays as arrays, u8 arrays as Uint8Array", () => {
    const bytes = new Uint8Array(40);
    const dv = new DataView(bytes.buffer);
    dv.setUint32(8, 0xffff_ffff, true);
    dv.setUint32(36, 0xabcd, true);
    const v = iommuHwInfoArmSmmuv3.decode(bytes);
    expect(v.idr).toEqual([0xffff_ffff, 0, 0, 0, 0, 0]);
    expect(v.aidr).toBe(0xabcd);
    const h = iommuHwInfo.decode(new Uint8Array(40).fill(0xff));
    expect(h.out_capabilities).toBe(2n ** 64n - 1n);
    expect(h.__reserved).toEqual(new Uint8Array([0xff, 0xff, 0xff]));
    expect(h.in_data_type).toBe(h.out_data_type);
  });

  it("encode: missing members are zero; values wrap like C; wrong JS types throw TypeError", () => {
    const s = defineStruct("t_s", [field("a", "u32"), field("b", "s32"), field("c", "u64")], {
      source: "test",
    });
    expect(s.decode(s.encode({ a: -1, b: 0xffff_ffff, c: -1n }))).toEqual({
      a: 0xffff_ffff,
      b: -1,
      c: 2n ** 64n - 1n,
    });
    expect(s.encode({})).toEqual(new Uint8Array(16));
    expect(() => s.encode({ a: 1n as unknown as number })).toThrow(TypeError);
    expect(() => s.encode({ c: 1 as unknown as bigint })).toThrow(TypeError);
  });

  it("decode/encodeInto honour offsets and bounds", () => {
    const buf = new Uint8Array(64);
    iommuHwInfoArmSmmuv3.encodeInto({ iidr: 7 }, buf, 8);
    expect(iommuHwInfoArmSmmuv3.decode(buf, 8).iidr).toBe(7);
    expect(() => iommuHwInfoArmSmmuv3.decode(buf, 32)).toThrow(RangeError);
    expect(() => iommuHwInfoArmSmmuv3.encodeInto({}, buf, 30)).toThrow(RangeError);
  });

  it("rejects bad declarations", () => {
    expect(() => defineStruct("t_dup", [field("a", "u8"), field("a", "u8")], { source: "test" })).toThrow();
    expect(() =>
      defineStruct("t_last", [field("a", "u8")], { source: "test", lastMandatory: "b" }),
    ).toThrow();
    expect(() => array("u8", 0)).toThrow(RangeError);
  });
});
