/** @packageDocumentation The VFIO type1 container (/dev/vfio/vfio) and VFIO groups on top of iommufd (Linux vfio_compat.c, vfio/group.c). */
export {};
