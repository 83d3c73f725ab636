/**
 * Semantics of Linux's selftest: IOMMU_GET_HW_INFO (iommufd_ioas get_hw_info)
 * and the fixture iommufd_mock_domain's alloc_hwpt and replace
 * (tools/testing/selftests/iommu/iommufd.c), on the byte interface.
 * struct iommu_hw_info / iommu_hwpt_alloc offsets: include/uapi/linux/iommufd.h v6.17.
 */
import {
  IOMMU_HW_INFO_SELFTEST_REGVAL,
  IOMMU_HW_INFO_TYPE_SELFTEST,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_IOCTL,
  IOMMU_TEST_OP,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { Fixture, view } from "./fixture";
import { bytes } from "./harness";

const ENOENT = -2;
const EBUSY = -16;
const EOPNOTSUPP = -95;

function hwInfo(f: Fixture, devId: number, dataLen: number, uptr: bigint): [number, DataView] {
  const arg = bytes(40, [
    [0, 4, 40],
    [8, 4, devId],
    [12, 4, dataLen],
    [16, 8, uptr],
  ]);
  return [f.fd.ioctl(IOMMU_IOCTL.IOMMU_GET_HW_INFO, arg), view(arg)];
}

function hwptAlloc(f: Fixture, devId: number, ptId: number, flags: number): [number, number] {
  const arg = bytes(48, [
    [0, 4, 48],
    [4, 4, flags],
    [8, 4, devId],
    [12, 4, ptId],
  ]);
  const rc = f.fd.ioctl(IOMMU_IOCTL.IOMMU_HWPT_ALLOC, arg);
  return [rc, view(arg).getUint32(16, true)];
}

function replace(f: Fixture, stdev: number, ptId: number): [number, number] {
  const [rc, arg] = f.test(IOMMU_TEST_OP.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, stdev, [[0, 4, ptId]]);
  return [rc, view(arg).getUint32(16, true)];
}

describe("IOMMU_GET_HW_INFO on a mock device", () => {
  it("answers the selftest data for a zero, exact, larger and smaller buffer", () => {
    const f = new Fixture(1);
    const buf = f.buffer + 4096n;
    let [rc, out] = hwInfo(f, f.idev, 0, 0n);
    expect(rc).toBe(0);
    expect(out.getUint32(12, true)).toBe(8); // data_len: sizeof(struct iommu_test_hw_info)
    expect(out.getUint32(24, true)).toBe(IOMMU_HW_INFO_TYPE_SELFTEST);
    expect(out.getBigUint64(32, true)).toBe(1n); // IOMMU_HW_CAP_DIRTY_TRACKING
    [rc] = hwInfo(f, f.idev, 8, buf);
    expect(rc).toBe(0);
    const exact = f.fd.user.read(buf, 8) as Uint8Array;
    expect([view(exact).getUint32(0, true), view(exact).getUint32(4, true)]).toEqual([
      0,
      IOMMU_HW_INFO_SELFTEST_REGVAL,
    ]);
    expect(f.fd.user.write(buf, new Uint8Array(16).fill(0xaa))).toBeUndefined();
    [rc] = hwInfo(f, f.idev, 16, buf);
    expect(rc).toBe(0);
    const larger = f.fd.user.read(buf, 16) as Uint8Array;
    expect([...larger.subarray(8)]).toEqual(new Array(8).fill(0)); // trailing bytes zeroed
    expect(f.fd.user.write(buf, new Uint8Array(8).fill(0xaa))).toBeUndefined();
    [rc] = hwInfo(f, f.idev, 4, buf);
    expect(rc).toBe(0);
    const smaller = f.fd.user.read(buf, 8) as Uint8Array;
    expect(view(smaller).getUint32(0, true)).toBe(0);
    expect(view(smaller).getUint32(4, true)).toBe(0xaaaaaaaa); // beyond data_len: untouched
  });

  it("ENOENT without a device; EOPNOTSUPP for another requested data type", () => {
    const f = new Fixture(1);
    expect(hwInfo(f, 0, 8, f.buffer)[0]).toBe(ENOENT);
    const arg = bytes(40, [
      [0, 4, 40],
      [4, 4, 1],
      [8, 4, f.idev],
      [24, 4, 1],
    ]); // INPUT_TYPE, type 1 (VT-d)
    expect(f.fd.ioctl(IOMMU_IOCTL.IOMMU_GET_HW_INFO, arg)).toBe(EOPNOTSUPP);
  });
});

describe.each([
  ["mock_domain", 1],
  ["two_mock_domain", 2],
])("fixture iommufd_mock_domain, variant %s", (_name, mockDomains) => {
  it("alloc_hwpt: unknown flags fail; paging and NEST_PARENT HWPTs rotate under a device", () => {
    const f = new Fixture(mockDomains);
    expect(hwptAlloc(f, f.idev, f.ioas, ~IOMMU_HWPT_ALLOC_NEST_PARENT >>> 0)[0]).toBe(EOPNOTSUPP);
    const [rc0, hwpt0] = hwptAlloc(f, f.idev, f.ioas, 0);
    const [rc1, hwpt1] = hwptAlloc(f, f.idev, f.ioas, IOMMU_HWPT_ALLOC_NEST_PARENT);
    expect([rc0, rc1]).toEqual([0, 0]);
    expect(replace(f, f.stdev, hwpt0)).toEqual([0, hwpt0]);
    expect(f.destroy(hwpt0)).toBe(EBUSY);
    expect(replace(f, f.stdev, hwpt1)).toEqual([0, hwpt1]);
    expect(f.destroy(hwpt1)).toBe(EBUSY);
    expect(replace(f, f.stdev, f.ioas)[0]).toBe(0);
    expect(f.destroy(hwpt1)).toBe(0);
    expect(f.destroy(hwpt0)).toBe(0);
  });

  it("replace: moving to another IOAS frees the old auto domain unless another device still uses it", () => {
    const f = new Fixture(mockDomains);
    const oldHwpt = f.hwpt;
    const other = f.ioasAlloc();
    const [rc, newHwpt] = replace(f, f.stdev, other);
    expect(rc).toBe(0);
    expect(newHwpt).not.toBe(oldHwpt);
    if (mockDomains === 1) expect(replace(f, f.stdev, oldHwpt)[0]).toBe(ENOENT);
    else expect(replace(f, f.stdev, oldHwpt)).toEqual([0, oldHwpt]);
    expect(replace(f, f.stdev, f.ioas)[0]).toBe(0);
    expect(f.destroy(other)).toBe(0);
  });
});
