/**
 * @packageDocumentation
 * The VFIO type1 container (/dev/vfio/vfio) on top of iommufd, as Linux's
 * drivers/iommu/iommufd/vfio_compat.c implements it: programs written for
 * the container ioctls run unchanged on the model; and VFIO groups
 * (/dev/vfio/$GROUP), device files and the cdev path
 * (/dev/vfio/devices/vfioN) as drivers/vfio/group.c and device_cdev.c
 * implement them on an iommufd — the `vfio` subsystem (`createVfio`).
 */

export { bytesArg, userArg, type VfioArg, vfioIntArg } from "./arg";
export { type CompatIoas, getCompatIoas } from "./compat-ioas";
export { COMPAT_MAP_FLAGS, COMPAT_UNMAP_FLAGS, cutCommand, mapDma, unmapDma } from "./dma";
export { checkExtension, dmaCcIommu } from "./extension";
export { COMPAT_DMA_AVAIL, compatPageSizes, getInfo } from "./get-info";
export { vfioCompatIoctl, vfioCompatIoctlUser, vfioContainerIoctl, withVfioCompat } from "./ioctl";
export { setIommu } from "./set-iommu";
export * from "./vfio/index";
