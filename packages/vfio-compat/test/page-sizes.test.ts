/**
 * iova_pgsizes (vfio_compat.c iommufd_get_pagesizes()): the AND of the
 * domains' pgsize_bitmap, sub-PAGE_SIZE bits folded into PAGE_SIZE
 * (vfio_update_pgsize_bitmap()), then max(bitmap, iova_alignment).
 * Bitmaps: VT-d second-stage and SMMUv3 4 KiB granule = 4K|2M|1G =
 * 0x4020_1000 (intel-iommu / arm-smmu-v3 pgsize_bitmap); the selftest
 * mock = MOCK_IO_PAGE_SIZE = 0x800.
 */
import type { Ioas } from "@iommu-sim/iopt";
import { describe, expect, it } from "vitest";
import { compatPageSizes } from "../src/index";

function compat(domains: { ioPageSize: number; pgsizeBitmap?: bigint }[], iovaAlignment = 1) {
  const ioas = { domains, iovaAlignment } as unknown as Ioas;
  return { id: 1, kobj: 1, ioas };
}

describe("compatPageSizes", () => {
  it("no domain: every power of two from PAGE_SIZE (ULONG_MAX & PAGE_MASK)", () => {
    expect(compatPageSizes(compat([]))).toBe(0xffff_ffff_ffff_f000n);
  });

  it("the mock's 2 KiB IO pages fold into PAGE_SIZE", () => {
    expect(compatPageSizes(compat([{ ioPageSize: 2048 }]))).toBe(0x1000n);
  });

  it("VT-d and SMMUv3 4K|2M|1G; with a 4K|2M domain beside it, the AND", () => {
    const vtd = { ioPageSize: 4096, pgsizeBitmap: 0x4020_1000n };
    expect(compatPageSizes(compat([vtd]))).toBe(0x4020_1000n);
    expect(compatPageSizes(compat([vtd, { ioPageSize: 4096, pgsizeBitmap: 0x20_1000n }]))).toBe(0x20_1000n);
  });

  it("at least the IOAS alignment (a numeric max, as Linux)", () => {
    expect(compatPageSizes(compat([{ ioPageSize: 2048 }], 0x1_0000))).toBe(0x1_0000n);
    expect(compatPageSizes(compat([{ ioPageSize: 4096, pgsizeBitmap: 0x4020_1000n }], 0x1000))).toBe(
      0x4020_1000n,
    );
  });
});
