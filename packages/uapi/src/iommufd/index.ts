/**
 * The iommufd user ABI (include/uapi/linux/iommufd.h, Linux v6.17), split by
 * topic: IOAS and generic commands, HWPTs, hardware info, faults, and
 * virtualization objects; plus the ioctl numbers and op table.
 */
export * from "./fault";
export * from "./hw-info";
export * from "./hwpt";
export * from "./ioas";
export * from "./ioctls";
export * from "./source";
export * from "./viommu";
