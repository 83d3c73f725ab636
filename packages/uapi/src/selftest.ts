/**
 * Linux's iommufd selftest interface: `IOMMU_TEST_CMD` with its operations
 * (`IOMMU_TEST_OP_*`), the `struct iommu_test_cmd` union, the mock driver's
 * constants and its driver-specific data blocks.
 *
 * Source: drivers/iommu/iommufd/iommufd_test.h (Linux v6.17, torvalds/linux
 * 80478a2b450e) for everything but the mock IO page sizes, which are private
 * to drivers/iommu/iommufd/selftest.c (MOCK_IO_PAGE_SIZE = PAGE_SIZE / 2).
 * All sizes in bytes.
 */
import { _IO } from "./ioctl";
import { defineStruct, field, type LayoutValue, reserved, union } from "./layout/index";

const TEST_H = "drivers/iommu/iommufd/iommufd_test.h (Linux v6.17)";

/** The selftest operations (`op` of `struct iommu_test_cmd`), numbered from 1. */
export const IOMMU_TEST_OP = {
  IOMMU_TEST_OP_ADD_RESERVED: 1,
  IOMMU_TEST_OP_MOCK_DOMAIN: 2,
  IOMMU_TEST_OP_MD_CHECK_MAP: 3,
  IOMMU_TEST_OP_MD_CHECK_REFS: 4,
  IOMMU_TEST_OP_CREATE_ACCESS: 5,
  IOMMU_TEST_OP_DESTROY_ACCESS_PAGES: 6,
  IOMMU_TEST_OP_ACCESS_PAGES: 7,
  IOMMU_TEST_OP_ACCESS_RW: 8,
  IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT: 9,
  IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE: 10,
  IOMMU_TEST_OP_ACCESS_REPLACE_IOAS: 11,
  IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS: 12,
  IOMMU_TEST_OP_DIRTY: 13,
  IOMMU_TEST_OP_MD_CHECK_IOTLB: 14,
  IOMMU_TEST_OP_TRIGGER_IOPF: 15,
  IOMMU_TEST_OP_DEV_CHECK_CACHE: 16,
  IOMMU_TEST_OP_TRIGGER_VEVENT: 17,
  IOMMU_TEST_OP_PASID_ATTACH: 18,
  IOMMU_TEST_OP_PASID_REPLACE: 19,
  IOMMU_TEST_OP_PASID_DETACH: 20,
  IOMMU_TEST_OP_PASID_CHECK_HWPT: 21,
} as const;
export type IommuTestOpName = keyof typeof IOMMU_TEST_OP;

/** Mock IOMMU aperture: IOVAs [MOCK_APERTURE_START, MOCK_APERTURE_LAST] = [16 MiB, 2 GiB - 1]. */
export const MOCK_APERTURE_START = 2 ** 24;
export const MOCK_APERTURE_LAST = 2 ** 31 - 1;

/** Page size of Linux the mock driver assumes (x86_64/arm64 4 KiB). */
export const MOCK_PAGE_SIZE = 4096;
/** The mock domain's IO page size: PAGE_SIZE / 2 = 2048 bytes (selftest.c). */
export const MOCK_IO_PAGE_SIZE = MOCK_PAGE_SIZE / 2;
/** The mock domain's huge IO page size: 512 × MOCK_IO_PAGE_SIZE = 1 MiB (selftest.c). */
export const MOCK_HUGE_PAGE_SIZE = 512 * MOCK_IO_PAGE_SIZE;
/** Mock device/IOMMU PASID width in bits. */
export const MOCK_PASID_WIDTH = 20;

/** `create_access.flags`. */
export const MOCK_FLAGS_ACCESS_WRITE = 1 << 0;
export const MOCK_FLAGS_ACCESS_SYZ = 1 << 16;
/** `access_rw.flags`. */
export const MOCK_ACCESS_RW_WRITE = 1 << 0;
export const MOCK_ACCESS_RW_SLOW_PATH = 1 << 2;
/** `create_access.flags` (creation-time). */
export const MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES = 1 << 0;
/** `mock_domain_flags.dev_flags`. */
export const MOCK_FLAGS_DEVICE_NO_DIRTY = 1 << 0;
export const MOCK_FLAGS_DEVICE_HUGE_IOVA = 1 << 1;
export const MOCK_FLAGS_DEVICE_PASID = 1 << 2;
/** Mock nested domain IOTLB: ids 0..3. */
export const MOCK_NESTED_DOMAIN_IOTLB_ID_MAX = 3;
export const MOCK_NESTED_DOMAIN_IOTLB_NUM = 4;
/** Mock device cache: ids 0..3. */
export const MOCK_DEV_CACHE_ID_MAX = 3;
export const MOCK_DEV_CACHE_NUM = 4;
/** PASID reserved for the special PASID-replace test. */
export const IOMMU_TEST_PASID_RESERVED = 1024;

/** Mock hardware-info type and register value (IOMMU_GET_HW_INFO on a mock device). */
export const IOMMU_HW_INFO_TYPE_SELFTEST = 0xfeedbeef;
export const IOMMU_HW_INFO_SELFTEST_REGVAL = 0xdeadbeef;
/** Mock nested HWPT data type and default IOTLB value. */
export const IOMMU_HWPT_DATA_SELFTEST = 0xdead;
export const IOMMU_TEST_IOTLB_DEFAULT = 0xbadbeef;
export const IOMMU_TEST_DEV_CACHE_DEFAULT = 0xbaddad;
/** Mock invalidation data types. */
export const IOMMU_HWPT_INVALIDATE_DATA_SELFTEST = 0xdeadbeef;
export const IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID = 0xdadbeef;
export const IOMMU_TEST_INVALIDATE_FLAG_ALL = 1 << 0;
/** Mock vIOMMU type and its invalidation data types. */
export const IOMMU_VIOMMU_TYPE_SELFTEST = 0xdeadbeef;
export const IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST = 0xdeadbeef;
export const IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST_INVALID = 0xdadbeef;
/** Mock vEVENTQ type. */
export const IOMMU_VEVENTQ_TYPE_SELFTEST = 0xbeefbeef;
/** Mock HW queue type and count. */
export const IOMMU_HW_QUEUE_TYPE_SELFTEST = 0xdeadbeef;
export const IOMMU_TEST_HW_QUEUE_MAX = 2;

const src = { source: TEST_H };

/** Union members of `struct iommu_test_cmd`, one per operation family (anonymous structs in C). */
export const iommuTestCmdAddReserved = defineStruct(
  "iommu_test_cmd.add_reserved",
  [field("start", "u64"), field("length", "u64")],
  src,
);
export const iommuTestCmdMockDomain = defineStruct(
  "iommu_test_cmd.mock_domain",
  [field("out_stdev_id", "u32"), field("out_hwpt_id", "u32"), field("out_idev_id", "u32")],
  src,
);
export const iommuTestCmdMockDomainFlags = defineStruct(
  "iommu_test_cmd.mock_domain_flags",
  [
    field("out_stdev_id", "u32"),
    field("out_hwpt_id", "u32"),
    field("out_idev_id", "u32"),
    field("dev_flags", "u32"),
  ],
  src,
);
export const iommuTestCmdMockDomainReplace = defineStruct(
  "iommu_test_cmd.mock_domain_replace",
  [field("pt_id", "u32")],
  src,
);
export const iommuTestCmdCheckMap = defineStruct(
  "iommu_test_cmd.check_map",
  [field("iova", "u64"), field("length", "u64"), field("uptr", "u64")],
  src,
);
export const iommuTestCmdCheckRefs = defineStruct(
  "iommu_test_cmd.check_refs",
  [field("length", "u64"), field("uptr", "u64"), field("refs", "u32")],
  src,
);
export const iommuTestCmdCreateAccess = defineStruct(
  "iommu_test_cmd.create_access",
  [field("out_access_fd", "u32"), field("flags", "u32")],
  src,
);
export const iommuTestCmdDestroyAccessPages = defineStruct(
  "iommu_test_cmd.destroy_access_pages",
  [field("access_pages_id", "u32")],
  src,
);
export const iommuTestCmdAccessPages = defineStruct(
  "iommu_test_cmd.access_pages",
  [
    field("flags", "u32"),
    field("out_access_pages_id", "u32"),
    field("iova", "u64"),
    field("length", "u64"),
    field("uptr", "u64"),
  ],
  src,
);
export const iommuTestCmdAccessRw = defineStruct(
  "iommu_test_cmd.access_rw",
  [field("iova", "u64"), field("length", "u64"), field("uptr", "u64"), field("flags", "u32")],
  src,
);
export const iommuTestCmdMemoryLimit = defineStruct(
  "iommu_test_cmd.memory_limit",
  [field("limit", "u32")],
  src,
);
export const iommuTestCmdAccessReplaceIoas = defineStruct(
  "iommu_test_cmd.access_replace_ioas",
  [field("ioas_id", "u32")],
  src,
);
export const iommuTestCmdDirty = defineStruct(
  "iommu_test_cmd.dirty",
  [
    field("flags", "u32"),
    field("iova", "u64"),
    field("length", "u64"),
    field("page_size", "u64"),
    field("uptr", "u64"),
    field("out_nr_dirty", "u64"),
  ],
  src,
);
export const iommuTestCmdCheckIotlb = defineStruct(
  "iommu_test_cmd.check_iotlb",
  [field("id", "u32"), field("iotlb", "u32")],
  src,
);
export const iommuTestCmdTriggerIopf = defineStruct(
  "iommu_test_cmd.trigger_iopf",
  [
    field("dev_id", "u32"),
    field("pasid", "u32"),
    field("grpid", "u32"),
    field("perm", "u32"),
    field("addr", "u64"),
  ],
  src,
);
export const iommuTestCmdCheckDevCache = defineStruct(
  "iommu_test_cmd.check_dev_cache",
  [field("id", "u32"), field("cache", "u32")],
  src,
);
export const iommuTestCmdTriggerVevent = defineStruct(
  "iommu_test_cmd.trigger_vevent",
  [field("dev_id", "u32")],
  src,
);
export const iommuTestCmdPasidAttach = defineStruct(
  "iommu_test_cmd.pasid_attach",
  [field("pasid", "u32"), field("pt_id", "u32")],
  src,
);
export const iommuTestCmdPasidReplace = defineStruct(
  "iommu_test_cmd.pasid_replace",
  [field("pasid", "u32"), field("pt_id", "u32")],
  src,
);
export const iommuTestCmdPasidDetach = defineStruct(
  "iommu_test_cmd.pasid_detach",
  [field("pasid", "u32")],
  src,
);
export const iommuTestCmdPasidCheck = defineStruct(
  "iommu_test_cmd.pasid_check",
  [field("pasid", "u32"), field("hwpt_id", "u32")],
  src,
);

/**
 * `struct iommu_test_cmd` (72 bytes): header (size, op, id, __reserved),
 * a 48-byte anonymous union at offset 16 (one member per operation family;
 * decode gives all of them, encode writes those present) and `last` at 64.
 * Minimum size: offsetofend(last) = 68 (IOCTL_OP(IOMMU_TEST_CMD, ..., last)).
 */
export const iommuTestCmd = defineStruct(
  "iommu_test_cmd",
  [
    field("size", "u32"),
    field("op", "u32"),
    field("id", "u32"),
    reserved("__reserved", "u32"),
    union([
      field("add_reserved", iommuTestCmdAddReserved),
      field("mock_domain", iommuTestCmdMockDomain),
      field("mock_domain_flags", iommuTestCmdMockDomainFlags),
      field("mock_domain_replace", iommuTestCmdMockDomainReplace),
      field("check_map", iommuTestCmdCheckMap),
      field("check_refs", iommuTestCmdCheckRefs),
      field("create_access", iommuTestCmdCreateAccess),
      field("destroy_access_pages", iommuTestCmdDestroyAccessPages),
      field("access_pages", iommuTestCmdAccessPages),
      field("access_rw", iommuTestCmdAccessRw),
      field("memory_limit", iommuTestCmdMemoryLimit),
      field("access_replace_ioas", iommuTestCmdAccessReplaceIoas),
      field("dirty", iommuTestCmdDirty),
      field("check_iotlb", iommuTestCmdCheckIotlb),
      field("trigger_iopf", iommuTestCmdTriggerIopf),
      field("check_dev_cache", iommuTestCmdCheckDevCache),
      field("trigger_vevent", iommuTestCmdTriggerVevent),
      field("pasid_attach", iommuTestCmdPasidAttach),
      field("pasid_replace", iommuTestCmdPasidReplace),
      field("pasid_detach", iommuTestCmdPasidDetach),
      field("pasid_check", iommuTestCmdPasidCheck),
    ]),
    field("last", "u32"),
  ],
  { source: TEST_H, lastMandatory: "last" },
);
export type IommuTestCmd = LayoutValue<typeof iommuTestCmd>;

/**
 * The union member of `struct iommu_test_cmd` each operation reads or
 * writes (as iommufd_test() in drivers/iommu/iommufd/selftest.c uses it).
 */
export const IOMMU_TEST_OP_MEMBER: Readonly<Record<IommuTestOpName, string>> = {
  IOMMU_TEST_OP_ADD_RESERVED: "add_reserved",
  IOMMU_TEST_OP_MOCK_DOMAIN: "mock_domain",
  IOMMU_TEST_OP_MD_CHECK_MAP: "check_map",
  IOMMU_TEST_OP_MD_CHECK_REFS: "check_refs",
  IOMMU_TEST_OP_CREATE_ACCESS: "create_access",
  IOMMU_TEST_OP_DESTROY_ACCESS_PAGES: "destroy_access_pages",
  IOMMU_TEST_OP_ACCESS_PAGES: "access_pages",
  IOMMU_TEST_OP_ACCESS_RW: "access_rw",
  IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT: "memory_limit",
  IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE: "mock_domain_replace",
  IOMMU_TEST_OP_ACCESS_REPLACE_IOAS: "access_replace_ioas",
  IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS: "mock_domain_flags",
  IOMMU_TEST_OP_DIRTY: "dirty",
  IOMMU_TEST_OP_MD_CHECK_IOTLB: "check_iotlb",
  IOMMU_TEST_OP_TRIGGER_IOPF: "trigger_iopf",
  IOMMU_TEST_OP_DEV_CHECK_CACHE: "check_dev_cache",
  IOMMU_TEST_OP_TRIGGER_VEVENT: "trigger_vevent",
  IOMMU_TEST_OP_PASID_ATTACH: "pasid_attach",
  IOMMU_TEST_OP_PASID_REPLACE: "pasid_replace",
  IOMMU_TEST_OP_PASID_DETACH: "pasid_detach",
  IOMMU_TEST_OP_PASID_CHECK_HWPT: "pasid_check",
};

/** `IOMMU_TEST_CMD` = `_IO(';', 0x80 + 32)` = 0x3ba0. */
export const IOMMU_TEST_CMD = _IO(";", 0x80 + 32);

/** `struct iommu_test_hw_info` (8 bytes): mock hw info block (type IOMMU_HW_INFO_TYPE_SELFTEST). */
export const iommuTestHwInfo = defineStruct(
  "iommu_test_hw_info",
  [field("flags", "u32"), field("test_reg", "u32")],
  src,
);
/** `struct iommu_hwpt_selftest` (4 bytes): mock nested HWPT data (IOMMU_HWPT_DATA_SELFTEST). */
export const iommuHwptSelftest = defineStruct("iommu_hwpt_selftest", [field("iotlb", "u32")], src);
/** `struct iommu_hwpt_invalidate_selftest` (8 bytes): mock invalidation entry. */
export const iommuHwptInvalidateSelftest = defineStruct(
  "iommu_hwpt_invalidate_selftest",
  [field("flags", "u32"), field("iotlb_id", "u32")],
  { source: TEST_H, knownFlags: IOMMU_TEST_INVALIDATE_FLAG_ALL },
);
/** `struct iommu_viommu_selftest` (24 bytes): mock vIOMMU data (loopback of in_data, mmap offset/length out). */
export const iommuViommuSelftest = defineStruct(
  "iommu_viommu_selftest",
  [
    field("in_data", "u32"),
    field("out_data", "u32"),
    field("out_mmap_offset", "u64"),
    field("out_mmap_length", "u64"),
  ],
  src,
);
/** `struct iommu_viommu_invalidate_selftest` (12 bytes): mock vIOMMU invalidation entry. */
export const iommuViommuInvalidateSelftest = defineStruct(
  "iommu_viommu_invalidate_selftest",
  [field("flags", "u32"), field("vdev_id", "u32"), field("cache_id", "u32")],
  { source: TEST_H, knownFlags: IOMMU_TEST_INVALIDATE_FLAG_ALL },
);
/** `struct iommu_viommu_event_selftest` (4 bytes): mock vEVENT payload. */
export const iommuViommuEventSelftest = defineStruct(
  "iommu_viommu_event_selftest",
  [field("virt_id", "u32")],
  src,
);
