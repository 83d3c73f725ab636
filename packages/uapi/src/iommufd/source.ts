/**
 * Citations for the iommufd ABI.
 *
 * The layouts follow the copy of Linux read for this package: torvalds/linux
 * at commit b4d90dbc4c1b (include/uapi/linux/iommufd.h), which carries
 * IOMMU_HW_QUEUE_ALLOC (0x94), IOMMU_HW_INFO_FLAG_INPUT_TYPE and
 * IOMMU_HW_CAP_PCI_PASID_EXEC/PRIV — i.e. the Linux v6.17 ABI. Minimum sizes
 * come from the `IOCTL_OP(..., struct, last)` table of
 * drivers/iommu/iommufd/main.c of the same release.
 */

/** The kernel release whose iommufd ABI this package models. */
export const IOMMUFD_ABI_VERSION = "v6.17";

/** Source citation used in every iommufd layout. */
export const IOMMUFD_H = `include/uapi/linux/iommufd.h (Linux ${IOMMUFD_ABI_VERSION})`;

/** Source citation of the ioctl op table (minimum sizes). */
export const IOMMUFD_MAIN_C = `drivers/iommu/iommufd/main.c (Linux ${IOMMUFD_ABI_VERSION})`;
