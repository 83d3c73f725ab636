/**
 * pgsize_bitmap of hardware paging domains, as Linux reports them through
 * iommu_domain->pgsize_bitmap (and VFIO's iova_pgsizes): VT-d second stage
 * from CAP.SLLPS (bit 0: 2 MiB, bit 1: 1 GiB; VT-d spec §11.4.2), SMMUv3's
 * 4 KiB granule with its 2 MiB and 1 GiB blocks.
 */
import { describe, expect, it } from "vitest";
import { smmuDomainDescriptor } from "../src/drivers/smmu";
import { vtdPgsizeBitmap } from "../src/drivers/vtd";

describe("pgsize_bitmap", () => {
  it("VT-d: 4 KiB always; 2 MiB and 1 GiB as CAP.SLLPS allows", () => {
    expect(vtdPgsizeBitmap(0b00)).toBe(0x1000n);
    expect(vtdPgsizeBitmap(0b01)).toBe(0x20_1000n);
    expect(vtdPgsizeBitmap(0b10)).toBe(0x4000_1000n);
    expect(vtdPgsizeBitmap(0b11)).toBe(0x4020_1000n);
  });

  it("SMMUv3 4 KiB granule: SZ_4K | SZ_2M | SZ_1G", () => {
    expect(smmuDomainDescriptor(1).pgsizeBitmap).toBe(0x4020_1000n);
  });
});
