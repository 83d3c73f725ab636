/**
 * IOMMU_GET_HW_INFO: the generic request and the per-vendor hardware info
 * blocks (Intel VT-d, ARM SMMUv3, NVIDIA Tegra241 CMDQV).
 *
 * Source: include/uapi/linux/iommufd.h (Linux v6.17). All sizes in bytes.
 */
import { array, defineStruct, field, type LayoutValue, reserved, union } from "../layout/index";
import { IOMMUFD_H } from "./source";

/** `enum iommu_hw_info_vtd_flags`. */
export const IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 = 1 << 0;

/** `struct iommu_hw_info_vtd` (24 bytes): VT-d CAP_REG and ECAP_REG values. */
export const iommuHwInfoVtd = defineStruct(
  "iommu_hw_info_vtd",
  [field("flags", "u32"), reserved("__reserved", "u32"), field("cap_reg", "u64"), field("ecap_reg", "u64")],
  { source: IOMMUFD_H },
);
export type IommuHwInfoVtd = LayoutValue<typeof iommuHwInfoVtd>;

/** `struct iommu_hw_info_arm_smmuv3` (40 bytes): SMMU_IDR0..5, SMMU_IIDR, SMMU_AIDR. */
export const iommuHwInfoArmSmmuv3 = defineStruct(
  "iommu_hw_info_arm_smmuv3",
  [
    field("flags", "u32"),
    reserved("__reserved", "u32"),
    field("idr", array("u32", 6)),
    field("iidr", "u32"),
    field("aidr", "u32"),
  ],
  { source: IOMMUFD_H },
);
export type IommuHwInfoArmSmmuv3 = LayoutValue<typeof iommuHwInfoArmSmmuv3>;

/** `struct iommu_hw_info_tegra241_cmdqv` (8 bytes). */
export const iommuHwInfoTegra241Cmdqv = defineStruct(
  "iommu_hw_info_tegra241_cmdqv",
  [
    field("flags", "u32"),
    field("version", "u8"),
    field("log2vcmdqs", "u8"),
    field("log2vsids", "u8"),
    reserved("__reserved", "u8"),
  ],
  { source: IOMMUFD_H },
);
export type IommuHwInfoTegra241Cmdqv = LayoutValue<typeof iommuHwInfoTegra241Cmdqv>;

/** `enum iommu_hw_info_type`. NONE and DEFAULT are both 0. */
export const IOMMU_HW_INFO_TYPE_NONE = 0;
export const IOMMU_HW_INFO_TYPE_DEFAULT = 0;
export const IOMMU_HW_INFO_TYPE_INTEL_VTD = 1;
export const IOMMU_HW_INFO_TYPE_ARM_SMMUV3 = 2;
export const IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV = 3;

/** `enum iommufd_hw_capabilities`: bits of `out_capabilities` (a u64; these fit in a number). */
export const IOMMU_HW_CAP_DIRTY_TRACKING = 1 << 0;
export const IOMMU_HW_CAP_PCI_PASID_EXEC = 1 << 1;
export const IOMMU_HW_CAP_PCI_PASID_PRIV = 1 << 2;

/** `enum iommufd_hw_info_flags`. */
export const IOMMU_HW_INFO_FLAG_INPUT_TYPE = 1 << 0;

/**
 * `struct iommu_hw_info` (40 bytes). `in_data_type`/`out_data_type` share
 * offset 24 (an anonymous union). The vendor block is written to user
 * pointer `data_uptr`, at most `data_len` bytes. Minimum: offsetofend(__reserved) = 32.
 */
export const iommuHwInfo = defineStruct(
  "iommu_hw_info",
  [
    field("size", "u32"),
    field("flags", "u32"),
    field("dev_id", "u32"),
    field("data_len", "u32"),
    field("data_uptr", "u64"),
    union([field("in_data_type", "u32"), field("out_data_type", "u32")]),
    field("out_max_pasid_log2", "u8"),
    reserved("__reserved", array("u8", 3)),
    field("out_capabilities", "u64"),
  ],
  { source: IOMMUFD_H, lastMandatory: "__reserved", knownFlags: IOMMU_HW_INFO_FLAG_INPUT_TYPE },
);
export type IommuHwInfo = LayoutValue<typeof iommuHwInfo>;
