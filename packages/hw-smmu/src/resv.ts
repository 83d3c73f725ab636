/**
 * Reserved IOVA regions an SMMUv3 device reports (iommu_get_resv_regions):
 * the software-managed MSI window, where Linux maps the MSI doorbell for
 * devices behind the SMMU, so IOAS allocations must avoid it.
 *
 * Source: Linux drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h (MSI_IOVA_BASE,
 * MSI_IOVA_LENGTH) and arm-smmu-v3.c arm_smmu_get_resv_regions()
 * (IOMMU_RESV_SW_MSI, prot IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_MMIO).
 */

/** MSI_IOVA_BASE: start of the software MSI window (bytes). */
export const MSI_IOVA_BASE = 0x800_0000n;
/** MSI_IOVA_LENGTH: its length (1 MiB). */
export const MSI_IOVA_LENGTH = 0x10_0000n;

/** `enum iommu_resv_type` value IOMMU_RESV_SW_MSI (include/linux/iommu.h). */
export const IOMMU_RESV_SW_MSI = 4;

/** One reserved region: [start, start + length) in bytes. */
export interface ReservedRegion {
  readonly start: bigint;
  readonly length: bigint;
  /** `enum iommu_resv_type`. */
  readonly type: number;
}

/** The reserved regions of a device behind an SMMUv3: the SW MSI window. */
export function reservedRegions(): readonly ReservedRegion[] {
  return [{ start: MSI_IOVA_BASE, length: MSI_IOVA_LENGTH, type: IOMMU_RESV_SW_MSI }];
}
