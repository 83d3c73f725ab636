/**
 * iommufd virtualization objects: vIOMMU, vDEVICE, vEVENTQ (virtual event
 * queue, with its record header and vendor events) and HW queues.
 *
 * Source: include/uapi/linux/iommufd.h (Linux v6.17). All sizes in bytes.
 */
import { array, defineStruct, field, type LayoutValue, reserved } from "../layout/index";
import { IOMMUFD_H } from "./source";

/** `enum iommu_viommu_type`. */
export const IOMMU_VIOMMU_TYPE_DEFAULT = 0;
export const IOMMU_VIOMMU_TYPE_ARM_SMMUV3 = 1;
export const IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV = 2;

/** `struct iommu_viommu_tegra241_cmdqv` (16 bytes): vIOMMU data (out) for TEGRA241_CMDQV. */
export const iommuViommuTegra241Cmdqv = defineStruct(
  "iommu_viommu_tegra241_cmdqv",
  [field("out_vintf_mmap_offset", "u64"), field("out_vintf_mmap_length", "u64")],
  { source: IOMMUFD_H },
);
export type IommuViommuTegra241Cmdqv = LayoutValue<typeof iommuViommuTegra241Cmdqv>;

/** `struct iommu_viommu_alloc` (40 bytes). flags must be 0. Minimum: offsetofend(out_viommu_id) = 24. */
export const iommuViommuAlloc = defineStruct(
  "iommu_viommu_alloc",
  [
    field("size", "u32"),
    field("flags", "u32"),
    field("type", "u32"),
    field("dev_id", "u32"),
    field("hwpt_id", "u32"),
    field("out_viommu_id", "u32"),
    field("data_len", "u32"),
    reserved("__reserved", "u32"),
    field("data_uptr", "u64"),
  ],
  { source: IOMMUFD_H, lastMandatory: "out_viommu_id", knownFlags: 0 },
);
export type IommuViommuAlloc = LayoutValue<typeof iommuViommuAlloc>;

/** `struct iommu_vdevice_alloc` (24 bytes). `virt_id` is the guest-visible device id (vSID/vRID). Minimum: 24. */
export const iommuVdeviceAlloc = defineStruct(
  "iommu_vdevice_alloc",
  [
    field("size", "u32"),
    field("viommu_id", "u32"),
    field("dev_id", "u32"),
    field("out_vdevice_id", "u32"),
    field("virt_id", "u64"),
  ],
  { source: IOMMUFD_H, lastMandatory: "virt_id" },
);
export type IommuVdeviceAlloc = LayoutValue<typeof iommuVdeviceAlloc>;

/** `enum iommu_veventq_flag`: flags of `iommufd_vevent_header`. */
export const IOMMU_VEVENTQ_FLAG_LOST_EVENTS = 1 << 0;

/**
 * `struct iommufd_vevent_header` (8 bytes): precedes each vEVENT read from a
 * vEVENTQ fd. `sequence` runs 0..INT_MAX and wraps to 0.
 */
export const iommufdVeventHeader = defineStruct(
  "iommufd_vevent_header",
  [field("flags", "u32"), field("sequence", "u32")],
  { source: IOMMUFD_H, knownFlags: IOMMU_VEVENTQ_FLAG_LOST_EVENTS },
);
export type IommufdVeventHeader = LayoutValue<typeof iommufdVeventHeader>;

/** `enum iommu_veventq_type`. */
export const IOMMU_VEVENTQ_TYPE_DEFAULT = 0;
export const IOMMU_VEVENTQ_TYPE_ARM_SMMUV3 = 1;
export const IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV = 2;

/** `struct iommu_vevent_arm_smmuv3` (32 bytes): a 256-bit little-endian SMMUv3 event record. */
export const iommuVeventArmSmmuv3 = defineStruct("iommu_vevent_arm_smmuv3", [field("evt", array("u64", 4))], {
  source: IOMMUFD_H,
});
export type IommuVeventArmSmmuv3 = LayoutValue<typeof iommuVeventArmSmmuv3>;

/** `struct iommu_vevent_tegra241_cmdqv` (16 bytes). */
export const iommuVeventTegra241Cmdqv = defineStruct(
  "iommu_vevent_tegra241_cmdqv",
  [field("lvcmdq_err_map", array("u64", 2))],
  { source: IOMMUFD_H },
);
export type IommuVeventTegra241Cmdqv = LayoutValue<typeof iommuVeventTegra241Cmdqv>;

/** `struct iommu_veventq_alloc` (32 bytes). flags must be 0. Minimum: offsetofend(out_veventq_fd) = 28. */
export const iommuVeventqAlloc = defineStruct(
  "iommu_veventq_alloc",
  [
    field("size", "u32"),
    field("flags", "u32"),
    field("viommu_id", "u32"),
    field("type", "u32"),
    field("veventq_depth", "u32"),
    field("out_veventq_id", "u32"),
    field("out_veventq_fd", "u32"),
    reserved("__reserved", "u32"),
  ],
  { source: IOMMUFD_H, lastMandatory: "out_veventq_fd", knownFlags: 0 },
);
export type IommuVeventqAlloc = LayoutValue<typeof iommuVeventqAlloc>;

/** `enum iommu_hw_queue_type`. */
export const IOMMU_HW_QUEUE_TYPE_DEFAULT = 0;
export const IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV = 1;

/** `struct iommu_hw_queue_alloc` (40 bytes). flags must be 0. Minimum: offsetofend(length) = 40. */
export const iommuHwQueueAlloc = defineStruct(
  "iommu_hw_queue_alloc",
  [
    field("size", "u32"),
    field("flags", "u32"),
    field("viommu_id", "u32"),
    field("type", "u32"),
    field("index", "u32"),
    field("out_hw_queue_id", "u32"),
    field("nesting_parent_iova", "u64"),
    field("length", "u64"),
  ],
  { source: IOMMUFD_H, lastMandatory: "length", knownFlags: 0 },
);
export type IommuHwQueueAlloc = LayoutValue<typeof iommuHwQueueAlloc>;
