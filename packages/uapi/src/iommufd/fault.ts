/**
 * iommufd IO page faults: the fault queue object, the fault records read
 * from its fd (`iommu_hwpt_pgfault`) and the responses written back
 * (`iommu_hwpt_page_response`).
 *
 * Source: include/uapi/linux/iommufd.h (Linux v6.17). All sizes in bytes.
 */
import { defineStruct, field, type LayoutValue, reserved } from "../layout/index";
import { IOMMUFD_H } from "./source";

/** `enum iommu_hwpt_pgfault_flags`. */
export const IOMMU_PGFAULT_FLAGS_PASID_VALID = 1 << 0;
export const IOMMU_PGFAULT_FLAGS_LAST_PAGE = 1 << 1;

/** `enum iommu_hwpt_pgfault_perm`. */
export const IOMMU_PGFAULT_PERM_READ = 1 << 0;
export const IOMMU_PGFAULT_PERM_WRITE = 1 << 1;
export const IOMMU_PGFAULT_PERM_EXEC = 1 << 2;
export const IOMMU_PGFAULT_PERM_PRIV = 1 << 3;

/**
 * The `perm` of a `struct iommu_hwpt_pgfault` for a page request asking
 * for `read`/`write`/`exec` access in privileged mode `priv`: the
 * IOMMU_PGFAULT_PERM_* bits every driver's fault report builds from its
 * hardware record (Linux intel/prq.c intel_prq_report(), arm-smmu-v3.c
 * arm_smmu_handle_ppr()).
 */
export function pgfaultPerm(r: { read: boolean; write: boolean; exec: boolean; priv: boolean }): number {
  return (
    (r.read ? IOMMU_PGFAULT_PERM_READ : 0) |
    (r.write ? IOMMU_PGFAULT_PERM_WRITE : 0) |
    (r.exec ? IOMMU_PGFAULT_PERM_EXEC : 0) |
    (r.priv ? IOMMU_PGFAULT_PERM_PRIV : 0)
  );
}

/**
 * `struct iommu_hwpt_pgfault` (40 bytes): one fault record as read(2) from a
 * fault fd. `length` is a hint in bytes; `cookie` is echoed in the response.
 */
export const iommuHwptPgfault = defineStruct(
  "iommu_hwpt_pgfault",
  [
    field("flags", "u32"),
    field("dev_id", "u32"),
    field("pasid", "u32"),
    field("grpid", "u32"),
    field("perm", "u32"),
    reserved("__reserved", "u32"),
    field("addr", "u64"),
    field("length", "u32"),
    field("cookie", "u32"),
  ],
  { source: IOMMUFD_H },
);
export type IommuHwptPgfault = LayoutValue<typeof iommuHwptPgfault>;

/** `enum iommufd_page_response_code` (PCIe PRG response codes). */
export const IOMMUFD_PAGE_RESP_SUCCESS = 0;
export const IOMMUFD_PAGE_RESP_INVALID = 1;

/** `struct iommu_hwpt_page_response` (8 bytes): written(2) to a fault fd. */
export const iommuHwptPageResponse = defineStruct(
  "iommu_hwpt_page_response",
  [field("cookie", "u32"), field("code", "u32")],
  { source: IOMMUFD_H },
);
export type IommuHwptPageResponse = LayoutValue<typeof iommuHwptPageResponse>;

/** `struct iommu_fault_alloc` (16 bytes): IOMMU_FAULT_QUEUE_ALLOC. flags must be 0. Minimum: 16. */
export const iommuFaultAlloc = defineStruct(
  "iommu_fault_alloc",
  [field("size", "u32"), field("flags", "u32"), field("out_fault_id", "u32"), field("out_fault_fd", "u32")],
  { source: IOMMUFD_H, lastMandatory: "out_fault_fd", knownFlags: 0 },
);
export type IommuFaultAlloc = LayoutValue<typeof iommuFaultAlloc>;
