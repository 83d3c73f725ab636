/**
 * iommufd IO address space (IOAS) commands: alloc, IOVA ranges, allow IOVAs,
 * map (user VA or memfd), copy, unmap, change process; plus the generic
 * destroy, option and VFIO-compat IOAS commands.
 *
 * Source: include/uapi/linux/iommufd.h (Linux v6.17). All sizes in bytes.
 */
import { defineStruct, field, type LayoutValue, reserved } from "../layout/index";
import { IOMMUFD_H } from "./source";

/** `enum iommufd_ioas_map_flags`: flags of IOMMU_IOAS_MAP / MAP_FILE / COPY. */
export const IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0;
export const IOMMU_IOAS_MAP_WRITEABLE = 1 << 1;
export const IOMMU_IOAS_MAP_READABLE = 1 << 2;
/** All `iommufd_ioas_map_flags` bits. */
export const IOMMU_IOAS_MAP_FLAGS_ALL =
  IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;

/** `struct iommu_destroy` (8 bytes): destroy any object by id. Minimum size: offsetofend(id) = 8. */
export const iommuDestroy = defineStruct("iommu_destroy", [field("size", "u32"), field("id", "u32")], {
  source: IOMMUFD_H,
  lastMandatory: "id",
});
export type IommuDestroy = LayoutValue<typeof iommuDestroy>;

/** `struct iommu_ioas_alloc` (12 bytes). flags must be 0. Minimum: offsetofend(out_ioas_id) = 12. */
export const iommuIoasAlloc = defineStruct(
  "iommu_ioas_alloc",
  [field("size", "u32"), field("flags", "u32"), field("out_ioas_id", "u32")],
  { source: IOMMUFD_H, lastMandatory: "out_ioas_id", knownFlags: 0 },
);
export type IommuIoasAlloc = LayoutValue<typeof iommuIoasAlloc>;

/** `struct iommu_iova_range` (16 bytes): an inclusive IOVA interval [start, last]. */
export const iommuIovaRange = defineStruct(
  "iommu_iova_range",
  [field("start", "u64"), field("last", "u64")],
  {
    source: IOMMUFD_H,
  },
);
export type IommuIovaRange = LayoutValue<typeof iommuIovaRange>;

/**
 * `struct iommu_ioas_iova_ranges` (32 bytes). `allowed_iovas` is a user
 * pointer to `num_iovas` × `iommu_iova_range`. Minimum: offsetofend(out_iova_alignment) = 32.
 */
export const iommuIoasIovaRanges = defineStruct(
  "iommu_ioas_iova_ranges",
  [
    field("size", "u32"),
    field("ioas_id", "u32"),
    field("num_iovas", "u32"),
    reserved("__reserved", "u32"),
    field("allowed_iovas", "u64"),
    field("out_iova_alignment", "u64"),
  ],
  { source: IOMMUFD_H, lastMandatory: "out_iova_alignment" },
);
export type IommuIoasIovaRanges = LayoutValue<typeof iommuIoasIovaRanges>;

/** `struct iommu_ioas_allow_iovas` (24 bytes). Minimum: offsetofend(allowed_iovas) = 24. */
export const iommuIoasAllowIovas = defineStruct(
  "iommu_ioas_allow_iovas",
  [
    field("size", "u32"),
    field("ioas_id", "u32"),
    field("num_iovas", "u32"),
    reserved("__reserved", "u32"),
    field("allowed_iovas", "u64"),
  ],
  { source: IOMMUFD_H, lastMandatory: "allowed_iovas" },
);
export type IommuIoasAllowIovas = LayoutValue<typeof iommuIoasAllowIovas>;

/**
 * `struct iommu_ioas_map` (40 bytes): map `length` bytes of user memory at
 * `user_va` into IOAS `ioas_id` at `iova` (in with FIXED_IOVA, else out).
 * Minimum: offsetofend(iova) = 40.
 */
export const iommuIoasMap = defineStruct(
  "iommu_ioas_map",
  [
    field("size", "u32"),
    field("flags", "u32"),
    field("ioas_id", "u32"),
    reserved("__reserved", "u32"),
    field("user_va", "u64"),
    field("length", "u64"),
    field("iova", "u64"),
  ],
  { source: IOMMUFD_H, lastMandatory: "iova", knownFlags: IOMMU_IOAS_MAP_FLAGS_ALL },
);
export type IommuIoasMap = LayoutValue<typeof iommuIoasMap>;

/** `struct iommu_ioas_map_file` (40 bytes): map from a memfd `fd` at byte offset `start`. Minimum: 40. */
export const iommuIoasMapFile = defineStruct(
  "iommu_ioas_map_file",
  [
    field("size", "u32"),
    field("flags", "u32"),
    field("ioas_id", "u32"),
    field("fd", "s32"),
    field("start", "u64"),
    field("length", "u64"),
    field("iova", "u64"),
  ],
  { source: IOMMUFD_H, lastMandatory: "iova", knownFlags: IOMMU_IOAS_MAP_FLAGS_ALL },
);
export type IommuIoasMapFile = LayoutValue<typeof iommuIoasMapFile>;

/** `struct iommu_ioas_copy` (40 bytes). Minimum: offsetofend(src_iova) = 40. */
export const iommuIoasCopy = defineStruct(
  "iommu_ioas_copy",
  [
    field("size", "u32"),
    field("flags", "u32"),
    field("dst_ioas_id", "u32"),
    field("src_ioas_id", "u32"),
    field("length", "u64"),
    field("dst_iova", "u64"),
    field("src_iova", "u64"),
  ],
  { source: IOMMUFD_H, lastMandatory: "src_iova", knownFlags: IOMMU_IOAS_MAP_FLAGS_ALL },
);
export type IommuIoasCopy = LayoutValue<typeof iommuIoasCopy>;

/** `struct iommu_ioas_unmap` (24 bytes); `length` is in/out (bytes unmapped). Minimum: offsetofend(length) = 24. */
export const iommuIoasUnmap = defineStruct(
  "iommu_ioas_unmap",
  [field("size", "u32"), field("ioas_id", "u32"), field("iova", "u64"), field("length", "u64")],
  { source: IOMMUFD_H, lastMandatory: "length" },
);
export type IommuIoasUnmap = LayoutValue<typeof iommuIoasUnmap>;

/** `struct iommu_ioas_change_process` (8 bytes). Minimum: offsetofend(__reserved) = 8. */
export const iommuIoasChangeProcess = defineStruct(
  "iommu_ioas_change_process",
  [field("size", "u32"), reserved("__reserved", "u32")],
  { source: IOMMUFD_H, lastMandatory: "__reserved" },
);
export type IommuIoasChangeProcess = LayoutValue<typeof iommuIoasChangeProcess>;

/** `enum iommufd_option`: option ids of IOMMU_OPTION. */
export const IOMMU_OPTION_RLIMIT_MODE = 0;
export const IOMMU_OPTION_HUGE_PAGES = 1;
/** `enum iommufd_option_ops`. */
export const IOMMU_OPTION_OP_SET = 0;
export const IOMMU_OPTION_OP_GET = 1;

/** `struct iommu_option` (24 bytes). Minimum: offsetofend(val64) = 24. */
export const iommuOption = defineStruct(
  "iommu_option",
  [
    field("size", "u32"),
    field("option_id", "u32"),
    field("op", "u16"),
    reserved("__reserved", "u16"),
    field("object_id", "u32"),
    field("val64", "u64"),
  ],
  { source: IOMMUFD_H, lastMandatory: "val64" },
);
export type IommuOption = LayoutValue<typeof iommuOption>;

/** `enum iommufd_vfio_ioas_op`. */
export const IOMMU_VFIO_IOAS_GET = 0;
export const IOMMU_VFIO_IOAS_SET = 1;
export const IOMMU_VFIO_IOAS_CLEAR = 2;

/** `struct iommu_vfio_ioas` (12 bytes). Minimum: offsetofend(__reserved) = 12. */
export const iommuVfioIoas = defineStruct(
  "iommu_vfio_ioas",
  [field("size", "u32"), field("ioas_id", "u32"), field("op", "u16"), reserved("__reserved", "u16")],
  { source: IOMMUFD_H, lastMandatory: "__reserved" },
);
export type IommuVfioIoas = LayoutValue<typeof iommuVfioIoas>;
