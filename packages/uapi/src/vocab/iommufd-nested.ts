/**
 * Commands and events of nested HW page tables and user-requested cache
 * invalidation (Linux drivers/iommu/iommufd/hw_pagetable.c
 * iommufd_hwpt_nested_alloc / iommufd_hwpt_invalidate, and the selftest
 * mock driver's nested domain in selftest.c: `struct
 * mock_iommu_domain_nested` with its `iotlb[MOCK_NESTED_DOMAIN_IOTLB_NUM]`).
 * The allocation itself is `iommufd.hwpt.alloc` with `data` (iommufd.ts).
 * Part of `iommufdMessages`.
 */
import { Type } from "@sinclair/typebox";
import { command, event, type MessageDef } from "./message";
import { Bytes, ObjectId, UInt } from "./schema";

const Ctx = UInt(31, "context id (one per open file), from 1");
const Kobj = UInt(31, "global id of the nested domain (the HWPT's kobj)");

/** The nested-HWPT messages, spread into `iommufdMessages`. */
export const iommufdNestedMessages = [
  command(
    "iommufd.hwpt.invalidate",
    Type.Object({
      ctx: Ctx,
      hwptId: UInt(32, "nested HWPT object id"),
      dataType: UInt(32, "enum iommu_hwpt_invalidate_data_type (or the selftest's)"),
      entryLen: UInt(32, "bytes per entry"),
      entryNum: UInt(32, "entries requested"),
      data: Bytes(
        "the entries as copied from data_uptr; shorter than entryLen × entryNum when user memory ended (EFAULT at the first entry not copied)",
      ),
    }),
    "IOMMU_HWPT_INVALIDATE (hw_pagetable.c iommufd_hwpt_invalidate → the domain's cache_invalidate_user)",
  ),
  event(
    "iommufd.hwpt.invalidated",
    Type.Object({
      ctx: Ctx,
      hwptId: ObjectId(),
      handled: UInt(32, "entries processed (entry_num copied back)"),
      error: Type.Optional(
        Type.String({ description: "errno name that stopped processing at entry `handled`" }),
      ),
    }),
    "a user invalidation request ended: entries processed, and the errno that stopped it (if any)",
  ),
  event(
    "iommufd.mock_nested.allocated",
    Type.Object({
      kobj: Kobj,
      parent: UInt(31, "global id of the parent mock paging domain"),
      iotlb: UInt(32, "iommu_hwpt_selftest.iotlb: the value of every mock IOTLB entry"),
      viommu: Type.Optional(
        UInt(
          31,
          "global id (kobj) of the vIOMMU it was allocated on (mock_nested->mock_viommu); absent: none",
        ),
      ),
    }),
    "a selftest mock nested domain was allocated (selftest.c __mock_domain_alloc_nested)",
  ),
  event(
    "iommufd.mock_nested.iotlb_cleared",
    Type.Object({
      kobj: Kobj,
      ids: Type.Array(UInt(8), { description: "mock IOTLB entry ids set to 0, in order" }),
    }),
    "mock IOTLB entries were invalidated (selftest.c mock_domain_cache_invalidate_user)",
  ),
  event("iommufd.mock_nested.freed", Type.Object({ kobj: Kobj }), "a selftest mock nested domain was freed"),
] as const satisfies readonly MessageDef[];
