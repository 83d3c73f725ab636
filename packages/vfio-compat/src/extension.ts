/**
 * VFIO_CHECK_EXTENSION on an iommufd-backed container (Linux
 * drivers/iommu/iommufd/vfio_compat.c iommufd_vfio_check_extension() and
 * iommufd_vfio_cc_iommu()).
 */
import type { IommufdRoot } from "@iommu-sim/iommufd";
import { isErrno, VFIO_EXTENSION } from "@iommu-sim/uapi";
import { getCompatIoas } from "./compat-ioas";

/**
 * What a domain descriptor tells about cache coherency (iopt's
 * DomainDescriptor; Linux hwpt_paging->enforce_cache_coherency).
 */
interface CoherencyOf {
  readonly enforceCacheCoherency?: boolean;
}

/**
 * VFIO_DMA_CC_IOMMU: 1 when every paging HWPT of the compat IOAS enforces
 * cache coherency (IOMMU_CAP_ENFORCE_CACHE_COHERENCY: no-snoop blocked) —
 * vacuously 1 with none — else 0; −ENODEV without a compat IOAS. The
 * selftest mock never enforces it (selftest.c has no
 * enforce_cache_coherency op), so a mock domain answers 0.
 */
export function dmaCcIommu(root: IommufdRoot, ctx: number): number {
  const compat = getCompatIoas(root, ctx);
  if (isErrno(compat)) return compat.ret;
  const domains = compat.ioas.domains as readonly CoherencyOf[];
  return domains.every((d) => d.enforceCacheCoherency === true) ? 1 : 0;
}

/**
 * VFIO_CHECK_EXTENSION(`extension`) → 1 supported / 0 not (or −ENODEV):
 * TYPE1, TYPE1v2 and UNMAP_ALL → 1; DMA_CC_IOMMU → `dmaCcIommu`; the
 * withdrawn TYPE1_NESTING, UPDATE_VADDR ("hard to see how this could be
 * implemented safely"), SPAPR_TCE(v2), EEH, NOIOMMU (the model is built
 * without CONFIG_VFIO_NOIOMMU) and any other value → 0.
 * @param extension the integer argument (`unsigned long`).
 */
export function checkExtension(root: IommufdRoot, ctx: number, extension: bigint): number {
  switch (extension) {
    case BigInt(VFIO_EXTENSION.VFIO_TYPE1_IOMMU):
    case BigInt(VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU):
    case BigInt(VFIO_EXTENSION.VFIO_UNMAP_ALL):
      return 1;
    case BigInt(VFIO_EXTENSION.VFIO_DMA_CC_IOMMU):
      return dmaCcIommu(root, ctx);
    default:
      return 0;
  }
}
