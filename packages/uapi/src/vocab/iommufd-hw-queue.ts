/**
 * Commands of iommufd's HW queues (Linux drivers/iommu/iommufd/viommu.c
 * `iommufd_hw_queue_alloc_ioctl()`, `iommufd_hw_queue_alloc_phys()`), as
 * the selftest mock implements them (selftest.c
 * `mock_viommu_get_hw_queue_size()`, `mock_hw_queue_init_phys()`). The
 * queue appears as `iommufd.object.created` (type `hw_queue`, `kobj` = the
 * internal access that pins its guest memory, with `queueType`,
 * `queueIndex`, `iova`, `length`) after iopt's access and pin events.
 * Part of `iommufdMessages`.
 */
import { Type } from "@sinclair/typebox";
import { command, type MessageDef } from "./message";
import { U64, UInt } from "./schema";

const Ctx = UInt(31, "context id (one per open file), from 1");

/** The HW queue messages, spread into `iommufdMessages`. */
export const iommufdHwQueueMessages = [
  command(
    "iommufd.hw_queue.alloc",
    Type.Object({
      ctx: Ctx,
      flags: UInt(32, "iommu_hw_queue_alloc.flags (must be 0)"),
      viommuId: UInt(32, "vIOMMU object id"),
      type: UInt(32, "enum iommu_hw_queue_type, or IOMMU_HW_QUEUE_TYPE_SELFTEST (0xdeadbeef)"),
      index: UInt(32, "the queue's logical index on the vIOMMU"),
      iova: U64("nesting_parent_iova: the queue memory's IOVA in the parent HWPT's IOAS (bytes)"),
      length: U64("the queue memory's length in bytes"),
    }),
    "IOMMU_HW_QUEUE_ALLOC (viommu.c iommufd_hw_queue_alloc_ioctl): a HW queue whose guest memory an internal access pins",
  ),
] as const satisfies readonly MessageDef[];
