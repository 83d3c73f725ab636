/**
 * @packageDocumentation
 * The Linux IOMMU user ABI as data: errno, struct layouts, ioctl numbers, the
 * byte codec with Linux's size rules, and the command/event vocabulary.
 */
export * from "./errno";
export * from "./ioasid";
export * from "./ioctl";
export * from "./iommufd/index";
export * from "./layout/index";
export * from "./legacy-uapi";
export * from "./selftest";
export * from "./size-rules";
export { u64ToNumber } from "./u64-number";
export * from "./vfio";
export * from "./vocab/index";
