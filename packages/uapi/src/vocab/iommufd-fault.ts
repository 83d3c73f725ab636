/**
 * Commands and events of iommufd's IO page fault queues (Linux
 * drivers/iommu/iommufd/eventq.c: IOMMU_FAULT_QUEUE_ALLOC, the fault fd's
 * read / write / release, iommufd_fault_destroy; selftest.c
 * IOMMU_TEST_OP_TRIGGER_IOPF). `id` is the fault object's id in context
 * `ctx`; `fault` is its kobj (the global id of the queue, the key of
 * `iommufd.faults`, which goes with the object). A group is a PCIe page request group (Linux `struct
 * iopf_group`); `seq` numbers the groups of one queue in arrival order.
 * Part of `iommufdMessages`.
 */
import { Type } from "@sinclair/typebox";
import { command, event, type MessageDef } from "./message";
import { U64, UInt } from "./schema";

const Ctx = UInt(31, "context id (one per open file), from 1");
const FaultId = UInt(32, "fault object id in ctx (what the fault fd stands for)");
const FaultKobj = UInt(31, "the fault queue's global id (its object's kobj)");
const Seq = UInt(32, "the group's number in its queue (arrival order, from 0)");

/** One page of a group: `struct iommu_fault_page_request` as iommufd reports it. */
const PageFault = Type.Object({
  addr: U64("page address (bytes, 4 KiB aligned for PCIe PRI)"),
  perm: UInt(32, "IOMMU_PGFAULT_PERM_* (READ 1, WRITE 2, EXEC 4, PRIV 8)"),
  flags: UInt(32, "IOMMU_PGFAULT_FLAGS_* (PASID_VALID 1, LAST_PAGE 2) | RESPONSE_NEEDS_PASID 4"),
});

/** Where a group came from, so that its response reaches that hardware. */
const Source = Type.Object({
  driver: Type.Union([Type.Literal("vtd"), Type.Literal("smmu"), Type.Literal("mock")]),
  unit: UInt(16, "VT-d unit / SMMU instance number; 0 for the mock"),
  rid: UInt(16, "requester id (SMMU StreamID); 0 for the mock"),
});

/** The fault messages, spread into `iommufdMessages`. */
export const iommufdFaultMessages = [
  command(
    "iommufd.fault.alloc",
    Type.Object({ ctx: Ctx }),
    "IOMMU_FAULT_QUEUE_ALLOC (eventq.c iommufd_fault_alloc): a fault object whose fd holds a users reference",
  ),
  command(
    "iommufd.fault.read",
    Type.Object({ ctx: Ctx, id: FaultId, count: UInt(32, "read(2) length in bytes") }),
    "read(2) on a fault fd (iommufd_fault_fops_read): whole groups move to the response table with cookies",
  ),
  command(
    "iommufd.fault.respond",
    Type.Object({
      ctx: Ctx,
      id: FaultId,
      responses: Type.Array(
        Type.Object({
          cookie: UInt(32, "the cookie read with the group"),
          code: UInt(32, "IOMMUFD_PAGE_RESP_SUCCESS 0 / INVALID 1"),
        }),
      ),
    }),
    "write(2) of iommu_hwpt_page_response records (iommufd_fault_fops_write): each answers its group",
  ),
  command(
    "iommufd.fault.release",
    Type.Object({ ctx: Ctx, id: FaultId }),
    "the fault fd is closed (iommufd_eventq_fops_release): its users reference on the object drops",
  ),
  command(
    "iommufd.selftest.trigger_iopf",
    Type.Object({
      ctx: Ctx,
      devId: UInt(32, "device object id"),
      pasid: UInt(32, "0 = IOMMU_NO_PASID"),
      grpid: UInt(32),
      perm: UInt(32, "IOMMU_PGFAULT_PERM_*"),
      addr: U64("bytes"),
    }),
    "IOMMU_TEST_OP_TRIGGER_IOPF (selftest.c iommufd_test_trigger_iopf): a one-page group from a mock device",
  ),
  event(
    "iommufd.fault.reported",
    Type.Object({
      fault: FaultKobj,
      devId: UInt(32, "device object id in the queue's context"),
      source: Source,
      pasid: UInt(32, "0 without PASID_VALID"),
      grpid: UInt(32, "page request group index (9 bits for PCIe PRI)"),
      page: PageFault,
    }),
    "a page request reached the queue (iommu_report_device_fault; a group is complete with its LAST_PAGE page)",
  ),
  event(
    "iommufd.fault.delivered",
    Type.Object({
      fault: FaultKobj,
      groups: Type.Array(Type.Object({ seq: Seq, cookie: UInt(32, "xa_alloc in [1, 2^32 − 1]") })),
    }),
    "read(2) took these groups from the head of the deliver list",
  ),
  event(
    "iommufd.fault.responded",
    Type.Object({ fault: FaultKobj, seq: Seq, code: UInt(32, "IOMMUFD_PAGE_RESP_*") }),
    "a group was answered (by write(2), or INVALID by detach / destroy) and left the queue",
  ),
  event("iommufd.fault.released", Type.Object({ ctx: Ctx, id: FaultId }), "the fault fd was closed"),
] as const satisfies readonly MessageDef[];
