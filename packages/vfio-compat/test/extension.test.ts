/**
 * VFIO_CHECK_EXTENSION and VFIO_SET_IOMMU (vfio_compat.c
 * iommufd_vfio_check_extension, iommufd_vfio_cc_iommu,
 * iommufd_vfio_set_iommu). Extension numbers from include/uapi/linux/vfio.h.
 */
import { IOMMU_VFIO_IOAS_SET, VFIO_EXTENSION, VFIO_IOCTL, VFIO_TYPE1_IOMMU } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { Container } from "./harness";

const ENODEV = -19;
const EINVAL = -22;

/** Extension number → the answer when the compat IOAS has no domain. */
const ANSWERS: [keyof typeof VFIO_EXTENSION, number][] = [
  ["VFIO_TYPE1_IOMMU", 1],
  ["VFIO_SPAPR_TCE_IOMMU", 0],
  ["VFIO_TYPE1v2_IOMMU", 1],
  ["VFIO_DMA_CC_IOMMU", 1],
  ["VFIO_EEH", 0],
  ["VFIO_TYPE1_NESTING_IOMMU", 0],
  ["VFIO_SPAPR_TCE_v2_IOMMU", 0],
  ["VFIO_NOIOMMU_IOMMU", 0],
  ["VFIO_UNMAP_ALL", 1],
  ["VFIO_UPDATE_VADDR", 0],
];

describe("VFIO_CHECK_EXTENSION", () => {
  it.each(ANSWERS)("%s → %i with a compat IOAS and no domain", (name, answer) => {
    const c = new Container();
    c.vfioIoas(IOMMU_VFIO_IOAS_SET, c.ioasAlloc());
    expect(c.ioctlInt(VFIO_IOCTL.VFIO_CHECK_EXTENSION, VFIO_EXTENSION[name])).toBe(answer);
  });

  it("unknown numbers are 0, whatever the upper bits", () => {
    const c = new Container();
    for (const v of [0, 11, 255, 2 ** 32 + 1, (1n << 64n) - 1n])
      expect(c.ioctlInt(VFIO_IOCTL.VFIO_CHECK_EXTENSION, v)).toBe(0);
  });

  it("DMA_CC_IOMMU needs the compat IOAS (ENODEV); the others do not", () => {
    const c = new Container();
    expect(c.ioctlInt(VFIO_IOCTL.VFIO_CHECK_EXTENSION, VFIO_EXTENSION.VFIO_DMA_CC_IOMMU)).toBe(ENODEV);
    expect(c.ioctlInt(VFIO_IOCTL.VFIO_CHECK_EXTENSION, VFIO_EXTENSION.VFIO_TYPE1_IOMMU)).toBe(1);
  });

  it("DMA_CC_IOMMU is 0 once a mock domain (no enforce_cache_coherency op) is on the IOAS", () => {
    const c = new Container();
    const ioas = c.ioasAlloc();
    c.vfioIoas(IOMMU_VFIO_IOAS_SET, ioas);
    c.mockDomain(ioas);
    expect(c.ioctlInt(VFIO_IOCTL.VFIO_CHECK_EXTENSION, VFIO_EXTENSION.VFIO_DMA_CC_IOMMU)).toBe(0);
  });
});

describe("VFIO_SET_IOMMU", () => {
  it("TYPE1 on an IOAS whose domain already maps areas is refused (EINVAL) and changes nothing", () => {
    const c = new Container();
    const ioas = c.ioasAlloc();
    c.vfioIoas(IOMMU_VFIO_IOAS_SET, ioas);
    c.mockDomain(ioas);
    expect(c.mapDma(c.buffer, 0x100_0000n, 0x1000n)).toBe(0);
    expect(c.ioctlInt(VFIO_IOCTL.VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU)).toBe(EINVAL);
    expect(c.hugePages(ioas)).toEqual([0, 1n]);
  });

  it("TYPE1 twice succeeds twice (nothing records the type)", () => {
    const c = new Container();
    const ioas = c.ioasAlloc();
    c.vfioIoas(IOMMU_VFIO_IOAS_SET, ioas);
    expect(c.ioctlInt(VFIO_IOCTL.VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU)).toBe(0);
    expect(c.ioctlInt(VFIO_IOCTL.VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU)).toBe(0);
    expect(c.hugePages(ioas)).toEqual([0, 0n]);
  });
});
