/**
 * iommufd hardware page tables (HWPT): allocation (kernel-managed paging or
 * user-managed nested with VT-d / SMMUv3 data), dirty tracking, and cache
 * invalidation with its per-vendor entry formats.
 *
 * Source: include/uapi/linux/iommufd.h (Linux v6.17). All sizes in bytes.
 */
import { array, defineStruct, field, type LayoutValue, reserved } from "../layout/index";
import { IOMMUFD_H } from "./source";

/** `enum iommufd_hwpt_alloc_flags`. */
export const IOMMU_HWPT_ALLOC_NEST_PARENT = 1 << 0;
export const IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 1 << 1;
export const IOMMU_HWPT_FAULT_ID_VALID = 1 << 2;
export const IOMMU_HWPT_ALLOC_PASID = 1 << 3;
/** All `iommufd_hwpt_alloc_flags` bits. */
export const IOMMU_HWPT_ALLOC_FLAGS_ALL =
  IOMMU_HWPT_ALLOC_NEST_PARENT |
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING |
  IOMMU_HWPT_FAULT_ID_VALID |
  IOMMU_HWPT_ALLOC_PASID;

/** `enum iommu_hwpt_vtd_s1_flags`: VT-d stage-1 PASID-entry attributes. */
export const IOMMU_VTD_S1_SRE = 1 << 0;
export const IOMMU_VTD_S1_EAFE = 1 << 1;
export const IOMMU_VTD_S1_WPE = 1 << 2;

/** `enum iommu_hwpt_data_type`: the `data_type` of IOMMU_HWPT_ALLOC. */
export const IOMMU_HWPT_DATA_NONE = 0;
export const IOMMU_HWPT_DATA_VTD_S1 = 1;
export const IOMMU_HWPT_DATA_ARM_SMMUV3 = 2;

/** `struct iommu_hwpt_vtd_s1` (24 bytes): nested HWPT data for IOMMU_HWPT_DATA_VTD_S1. */
export const iommuHwptVtdS1 = defineStruct(
  "iommu_hwpt_vtd_s1",
  [
    field("flags", "u64"),
    field("pgtbl_addr", "u64"),
    field("addr_width", "u32"),
    reserved("__reserved", "u32"),
  ],
  { source: IOMMUFD_H },
);
export type IommuHwptVtdS1 = LayoutValue<typeof iommuHwptVtdS1>;

/** `struct iommu_hwpt_arm_smmuv3` (16 bytes): the first two little-endian STE double words (IOMMU_HWPT_DATA_ARM_SMMUV3). */
export const iommuHwptArmSmmuv3 = defineStruct("iommu_hwpt_arm_smmuv3", [field("ste", array("u64", 2))], {
  source: IOMMUFD_H,
});
export type IommuHwptArmSmmuv3 = LayoutValue<typeof iommuHwptArmSmmuv3>;

/**
 * `struct iommu_hwpt_alloc` (48 bytes). `data_uptr`/`data_len` point at the
 * type-specific data (`data_type`). `fault_id` is valid with
 * IOMMU_HWPT_FAULT_ID_VALID. Minimum: offsetofend(__reserved) = 24.
 */
export const iommuHwptAlloc = defineStruct(
  "iommu_hwpt_alloc",
  [
    field("size", "u32"),
    field("flags", "u32"),
    field("dev_id", "u32"),
    field("pt_id", "u32"),
    field("out_hwpt_id", "u32"),
    reserved("__reserved", "u32"),
    field("data_type", "u32"),
    field("data_len", "u32"),
    field("data_uptr", "u64"),
    field("fault_id", "u32"),
    reserved("__reserved2", "u32"),
  ],
  { source: IOMMUFD_H, lastMandatory: "__reserved", knownFlags: IOMMU_HWPT_ALLOC_FLAGS_ALL },
);
export type IommuHwptAlloc = LayoutValue<typeof iommuHwptAlloc>;

/** `enum iommufd_hwpt_set_dirty_tracking_flags`. */
export const IOMMU_HWPT_DIRTY_TRACKING_ENABLE = 1;

/** `struct iommu_hwpt_set_dirty_tracking` (16 bytes). Minimum: offsetofend(__reserved) = 16. */
export const iommuHwptSetDirtyTracking = defineStruct(
  "iommu_hwpt_set_dirty_tracking",
  [field("size", "u32"), field("flags", "u32"), field("hwpt_id", "u32"), reserved("__reserved", "u32")],
  { source: IOMMUFD_H, lastMandatory: "__reserved", knownFlags: IOMMU_HWPT_DIRTY_TRACKING_ENABLE },
);
export type IommuHwptSetDirtyTracking = LayoutValue<typeof iommuHwptSetDirtyTracking>;

/** `enum iommufd_hwpt_get_dirty_bitmap_flags`. */
export const IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR = 1;

/**
 * `struct iommu_hwpt_get_dirty_bitmap` (48 bytes). `data` is a user pointer
 * to a bitmap with one bit per `page_size` bytes of [iova, iova+length).
 * Minimum: offsetofend(data) = 48.
 */
export const iommuHwptGetDirtyBitmap = defineStruct(
  "iommu_hwpt_get_dirty_bitmap",
  [
    field("size", "u32"),
    field("hwpt_id", "u32"),
    field("flags", "u32"),
    reserved("__reserved", "u32"),
    field("iova", "u64"),
    field("length", "u64"),
    field("page_size", "u64"),
    field("data", "u64"),
  ],
  { source: IOMMUFD_H, lastMandatory: "data", knownFlags: IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR },
);
export type IommuHwptGetDirtyBitmap = LayoutValue<typeof iommuHwptGetDirtyBitmap>;

/** `enum iommu_hwpt_invalidate_data_type`. */
export const IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 = 0;
export const IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 = 1;

/** `enum iommu_hwpt_vtd_s1_invalidate_flags`. */
export const IOMMU_VTD_INV_FLAGS_LEAF = 1 << 0;

/**
 * `struct iommu_hwpt_vtd_s1_invalidate` (24 bytes): one VT-d stage-1
 * invalidation entry; `addr` 4 KiB aligned, `npages` 4 KiB pages
 * (addr 0 + npages U64_MAX = everything).
 */
export const iommuHwptVtdS1Invalidate = defineStruct(
  "iommu_hwpt_vtd_s1_invalidate",
  [field("addr", "u64"), field("npages", "u64"), field("flags", "u32"), reserved("__reserved", "u32")],
  { source: IOMMUFD_H, knownFlags: IOMMU_VTD_INV_FLAGS_LEAF },
);
export type IommuHwptVtdS1Invalidate = LayoutValue<typeof iommuHwptVtdS1Invalidate>;

/** `struct iommu_viommu_arm_smmuv3_invalidate` (16 bytes): one 128-bit little-endian SMMUv3 CMDQ command. */
export const iommuViommuArmSmmuv3Invalidate = defineStruct(
  "iommu_viommu_arm_smmuv3_invalidate",
  [field("cmd", array("u64", 2))],
  { source: IOMMUFD_H },
);
export type IommuViommuArmSmmuv3Invalidate = LayoutValue<typeof iommuViommuArmSmmuv3Invalidate>;

/**
 * `struct iommu_hwpt_invalidate` (32 bytes): `entry_num` entries of
 * `entry_len` bytes each at user pointer `data_uptr`; `entry_num` is in/out.
 * Minimum: offsetofend(__reserved) = 32.
 */
export const iommuHwptInvalidate = defineStruct(
  "iommu_hwpt_invalidate",
  [
    field("size", "u32"),
    field("hwpt_id", "u32"),
    field("data_uptr", "u64"),
    field("data_type", "u32"),
    field("entry_len", "u32"),
    field("entry_num", "u32"),
    reserved("__reserved", "u32"),
  ],
  { source: IOMMUFD_H, lastMandatory: "__reserved" },
);
export type IommuHwptInvalidate = LayoutValue<typeof iommuHwptInvalidate>;
