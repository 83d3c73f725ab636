/**
 * @packageDocumentation
 * The VFIO type1 container (/dev/vfio/vfio) on top of iommufd, as Linux's
 * drivers/iommu/iommufd/vfio_compat.c implements it: programs written for
 * the container ioctls run unchanged on the model. (VFIO groups, device
 * fds and the cdev path come later.)
 */

export { bytesArg, userArg, type VfioArg, vfioIntArg } from "./arg";
export { type CompatIoas, getCompatIoas } from "./compat-ioas";
export { COMPAT_MAP_FLAGS, COMPAT_UNMAP_FLAGS, cutCommand, mapDma, unmapDma } from "./dma";
export { checkExtension, dmaCcIommu } from "./extension";
export { COMPAT_DMA_AVAIL, compatPageSizes, getInfo } from "./get-info";
export { vfioCompatIoctl, vfioCompatIoctlUser, vfioContainerIoctl, withVfioCompat } from "./ioctl";
export { setIommu } from "./set-iommu";
