/**
 * Commands and events of iommufd's vIOMMU event queues (Linux
 * drivers/iommu/iommufd/eventq.c `iommufd_veventq_alloc()`, the vEVENTQ
 * fd's read / release, driver.c `iommufd_viommu_report_event()`; selftest.c
 * IOMMU_TEST_OP_TRIGGER_VEVENT). `id` is the vEVENTQ object's id in
 * context `ctx`; `veventq` is its kobj (the queue's global id, the key of
 * `iommufd.veventqs`, which goes with the object). The queue's records
 * get their sequence numbers in evolve, from the queue's counter, so the
 * events carry only what was reported. Part of `iommufdMessages`.
 */
import { Type } from "@sinclair/typebox";
import { command, event, type MessageDef } from "./message";
import { Bytes, UInt } from "./schema";

const Ctx = UInt(31, "context id (one per open file), from 1");
const VeventqId = UInt(32, "vEVENTQ object id in ctx (what the vEVENTQ fd stands for)");
const VeventqKobj = UInt(31, "the vEVENTQ's global id (its object's kobj)");

/** The vEVENTQ messages, spread into `iommufdMessages`. */
export const iommufdVeventqMessages = [
  command(
    "iommufd.veventq.alloc",
    Type.Object({
      ctx: Ctx,
      flags: UInt(32, "iommu_veventq_alloc.flags (must be 0)"),
      viommuId: UInt(32, "vIOMMU object id"),
      type: UInt(32, "enum iommu_veventq_type, or IOMMU_VEVENTQ_TYPE_SELFTEST (0xbeefbeef)"),
      depth: UInt(32, "veventq_depth: events the queue holds before it loses them (≥ 1)"),
    }),
    "IOMMU_VEVENTQ_ALLOC (eventq.c iommufd_veventq_alloc): a vEVENTQ object whose fd holds a users reference",
  ),
  command(
    "iommufd.veventq.read",
    Type.Object({ ctx: Ctx, id: VeventqId, count: UInt(32, "read(2) length in bytes") }),
    "read(2) on a vEVENTQ fd (iommufd_veventq_fops_read): whole records leave the head of the queue",
  ),
  command(
    "iommufd.veventq.release",
    Type.Object({ ctx: Ctx, id: VeventqId }),
    "the vEVENTQ fd is closed (iommufd_eventq_fops_release): its users reference on the object drops",
  ),
  command(
    "iommufd.selftest.trigger_vevent",
    Type.Object({ ctx: Ctx, devId: UInt(32, "device object id of a mock device") }),
    "IOMMU_TEST_OP_TRIGGER_VEVENT (selftest.c iommufd_test_trigger_vevent): the device's virt_id as a vEVENT",
  ),
  event(
    "iommufd.vevent.reported",
    Type.Object({
      veventq: VeventqKobj,
      data: Bytes("the event data (struct iommu_viommu_event_selftest: virt_id, 4 bytes little endian)"),
    }),
    "a vEVENT joined the queue (iommufd_viommu_report_event, with room left: num_events < depth)",
  ),
  event(
    "iommufd.vevent.lost",
    Type.Object({ veventq: VeventqKobj }),
    "a vEVENT was lost (the queue held depth events): the IOMMU_VEVENTQ_FLAG_LOST_EVENTS header moves to the tail with the next sequence",
  ),
  event(
    "iommufd.veventq.delivered",
    Type.Object({ veventq: VeventqKobj, records: UInt(32, "records taken from the head, in order") }),
    "read(2) took these records (vEVENTs and at most one lost-events header, always last)",
  ),
  event("iommufd.veventq.released", Type.Object({ ctx: Ctx, id: VeventqId }), "the vEVENTQ fd was closed"),
] as const satisfies readonly MessageDef[];
