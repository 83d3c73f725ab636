/**
 * Dirty tracking, which the model does not have yet: Linux's answers
 * when the driver lacks the feature, in Linux's order (hw_pagetable.c,
 * io_pagetable.c) — never ENOTTY,
 * since the ioctls exist. Object ids: 1 IOAS, 2 selftest device object,
 * 3 the mock's auto-domain HWPT, 4 the device (selftest MOCK_DOMAIN order).
 */
import { IOMMU_IOCTL } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { Fixture } from "./fixture";
import { bytes } from "./harness";

const ENOENT = -2;
const EOPNOTSUPP = -95;

describe("features the model lacks answer as a driver without them", () => {
  const f = new Fixture(1);
  const call = (name: keyof typeof IOMMU_IOCTL, size: number, fields: [number, 4 | 8, number | bigint][]) =>
    f.fd.ioctl(IOMMU_IOCTL[name], bytes(size, [[0, 4, size], ...fields]));

  it("IOMMU_HWPT_SET_DIRTY_TRACKING: ENOENT for a non-HWPT, EOPNOTSUPP on a paging HWPT; unknown flags EOPNOTSUPP", () => {
    expect(call("IOMMU_HWPT_SET_DIRTY_TRACKING", 16, [[8, 4, f.ioas]])).toBe(ENOENT);
    expect(call("IOMMU_HWPT_SET_DIRTY_TRACKING", 16, [[8, 4, f.hwpt]])).toBe(EOPNOTSUPP);
    expect(
      call("IOMMU_HWPT_SET_DIRTY_TRACKING", 16, [
        [4, 4, 1],
        [8, 4, f.hwpt],
      ]),
    ).toBe(EOPNOTSUPP);
    expect(
      call("IOMMU_HWPT_SET_DIRTY_TRACKING", 16, [
        [4, 4, 2],
        [8, 4, 999],
      ]),
    ).toBe(EOPNOTSUPP); // flag first
  });

  it("IOMMU_HWPT_GET_DIRTY_BITMAP: ENOENT for a missing HWPT, EOPNOTSUPP for a paging one", () => {
    expect(call("IOMMU_HWPT_GET_DIRTY_BITMAP", 48, [[4, 4, 999]])).toBe(ENOENT);
    expect(
      call("IOMMU_HWPT_GET_DIRTY_BITMAP", 48, [
        [4, 4, f.hwpt],
        [24, 8, 4096n],
        [32, 8, 4096n],
      ]),
    ).toBe(EOPNOTSUPP);
  });

  it("changes nothing", () => {
    const objects = () => Object.keys(f.log.peek().iommufd.contexts[f.fd.ctx]!.objects);
    const before = objects();
    call("IOMMU_HWPT_SET_DIRTY_TRACKING", 16, [[8, 4, f.hwpt]]);
    call("IOMMU_HWPT_GET_DIRTY_BITMAP", 48, [[4, 4, f.hwpt]]);
    expect(objects()).toEqual(before);
  });
});
