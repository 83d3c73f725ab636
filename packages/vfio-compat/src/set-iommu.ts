/**
 * VFIO_SET_IOMMU on an iommufd-backed container (Linux
 * drivers/iommu/iommufd/vfio_compat.c iommufd_vfio_set_iommu()).
 */
import type { IoctlEnv, IommufdRoot } from "@iommu-sim/iommufd";
import { isErrno, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU } from "@iommu-sim/uapi";
import { getCompatIoas } from "./compat-ioas";

/**
 * VFIO_SET_IOMMU(`type`) → 0 or −errno.
 *
 * - EINVAL for any type but VFIO_TYPE1_IOMMU (1) and VFIO_TYPE1v2_IOMMU (3)
 *   (NOIOMMU needs CONFIG_VFIO_NOIOMMU, which the model does not have);
 * - ENODEV without a compat IOAS ("VFIO fails the set_iommu if there is no group");
 * - TYPE1 (v1) promises that an unmap may cut a mapping anywhere, which a
 *   huge IOPTE cannot honour, so it turns the IOAS's large pages off
 *   (iopt_disable_large_pages(): the command `ioas.set_huge_pages {val64: 0}`,
 *   whose EINVAL — domains already map areas — is returned as is);
 * - TYPE1v2 changes nothing. Nothing records the type: as in Linux, a
 *   second SET_IOMMU succeeds again, and the type is visible only as
 *   IOMMU_OPTION_HUGE_PAGES = 0 on the IOAS.
 * @param type the integer argument (`unsigned long`).
 */
export function setIommu(env: IoctlEnv<IommufdRoot>, ctx: number, type: bigint): number {
  if (type !== BigInt(VFIO_TYPE1_IOMMU) && type !== BigInt(VFIO_TYPE1v2_IOMMU)) return -22; // EINVAL
  const compat = getCompatIoas(env.peek(), ctx);
  if (isErrno(compat)) return compat.ret;
  if (type === BigInt(VFIO_TYPE1v2_IOMMU)) return 0;
  const r = env.dispatch({ type: "ioas.set_huge_pages", data: { ioas: compat.kobj, val64: 0n } });
  return isErrno(r) ? r.ret : 0;
}
