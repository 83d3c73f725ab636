/**
 * IOMMU_VFIO_IOAS (the selftest's vfio_ioas case, fixture iommufd): GET
 * without a compat IOAS is ENODEV, SET of a bad id ENOENT, SET/GET/CLEAR
 * round-trip, and destroying the compat IOAS clears it.
 * struct iommu_vfio_ioas {u32 size; u32 ioas_id; u16 op; u16 __reserved} (12 bytes).
 */
import {
  IOMMU_IOCTL,
  IOMMU_VFIO_IOAS_CLEAR,
  IOMMU_VFIO_IOAS_GET,
  IOMMU_VFIO_IOAS_SET,
} from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { Fixture, view } from "./fixture";
import { bytes } from "./harness";

const ENOENT = -2;
const ENODEV = -19;
const EOPNOTSUPP = -95;

function vfioIoas(f: Fixture, op: number, ioasId = 0): [number, number] {
  const arg = bytes(12, [
    [0, 4, 12],
    [4, 4, ioasId],
    [8, 2, op],
  ]);
  return [f.fd.ioctl(IOMMU_IOCTL.IOMMU_VFIO_IOAS, arg), view(arg).getUint32(4, true)];
}

describe("IOMMU_VFIO_IOAS", () => {
  it("get/set/clear the compat IOAS", () => {
    const f = new Fixture(0);
    expect(vfioIoas(f, IOMMU_VFIO_IOAS_GET)[0]).toBe(ENODEV);
    expect(vfioIoas(f, IOMMU_VFIO_IOAS_SET, 0)[0]).toBe(ENOENT);
    expect(vfioIoas(f, IOMMU_VFIO_IOAS_SET, f.ioas)[0]).toBe(0);
    expect(vfioIoas(f, IOMMU_VFIO_IOAS_GET)).toEqual([0, f.ioas]);
    expect(vfioIoas(f, IOMMU_VFIO_IOAS_CLEAR)[0]).toBe(0);
    expect(vfioIoas(f, IOMMU_VFIO_IOAS_GET)[0]).toBe(ENODEV);
    expect(vfioIoas(f, 7)[0]).toBe(EOPNOTSUPP);
  });

  it("destroying the compat IOAS clears it", () => {
    const f = new Fixture(0);
    expect(vfioIoas(f, IOMMU_VFIO_IOAS_SET, f.ioas)[0]).toBe(0);
    expect(f.destroy(f.ioas)).toBe(0);
    expect(vfioIoas(f, IOMMU_VFIO_IOAS_GET)[0]).toBe(ENODEV);
  });
});
