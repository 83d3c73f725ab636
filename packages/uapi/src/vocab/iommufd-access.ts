/**
 * Commands and events of the selftest's in-kernel accesses (Linux
 * drivers/iommu/iommufd/selftest.c: `struct selftest_access` behind an
 * anon-inode fd, IOMMU_TEST_OP_CREATE_ACCESS, _ACCESS_PAGES,
 * _DESTROY_ACCESS_PAGES, _ACCESS_RW, _ACCESS_REPLACE_IOAS, and the fd's
 * release). `id` is the access's object id in context `ctx` (the context
 * the access was created in, which the access fd refers to). Part of
 * `iommufdMessages`.
 */
import { Type } from "@sinclair/typebox";
import { command, event, type MessageDef } from "./message";
import { Bytes, ObjectId, U64, UInt } from "./schema";

const Ctx = UInt(31, "context id (one per open file), from 1");
const AccessId = UInt(32, "access object id in ctx (what the access fd stands for)");

/** The access messages, spread into `iommufdMessages`. */
export const iommufdAccessMessages = [
  command(
    "iommufd.selftest.access_create",
    Type.Object({
      ctx: Ctx,
      ioasId: UInt(32, "IOAS object id"),
      flags: UInt(32, "MOCK_FLAGS_ACCESS_CREATE_*"),
    }),
    "IOMMU_TEST_OP_CREATE_ACCESS: an access attached to an IOAS (selftest.c iommufd_test_create_access)",
  ),
  command(
    "iommufd.selftest.access_destroy",
    Type.Object({ ctx: Ctx, id: AccessId }),
    "the access fd is released: its items are unpinned and the access destroyed (iommufd_test_staccess_release)",
  ),
  command(
    "iommufd.selftest.access_replace_ioas",
    Type.Object({ ctx: Ctx, id: AccessId, ioasId: UInt(32, "IOAS object id") }),
    "IOMMU_TEST_OP_ACCESS_REPLACE_IOAS (iommufd_access_replace): every item is unpinned first",
  ),
  command(
    "iommufd.selftest.access_pages",
    Type.Object({
      ctx: Ctx,
      id: AccessId,
      iova: U64("bytes, 4 KiB aligned within the area"),
      length: U64("bytes"),
      write: Type.Boolean({ description: "MOCK_FLAGS_ACCESS_WRITE" }),
      uptr: U64("user VA whose pages must be the pinned ones; 0 skips the check"),
      pid: Type.Optional(
        UInt(
          31,
          "the calling process, whose memory `uptr` is in (current->mm); absent: the context's opener",
        ),
      ),
    }),
    "IOMMU_TEST_OP_ACCESS_PAGES: pin the pages under an IOVA range as a new item (iommufd_test_access_pages)",
  ),
  event(
    "iommufd.selftest.access_item_added",
    Type.Object({ ctx: Ctx, id: ObjectId(), item: UInt(32, "the item's id (out_access_pages_id)") }),
    "an access item was created; the access's next item id is item + 1",
  ),
  command(
    "iommufd.selftest.access_pages_destroy",
    Type.Object({ ctx: Ctx, id: AccessId, item: UInt(32, "access_pages_id") }),
    "IOMMU_TEST_OP_DESTROY_ACCESS_PAGES: unpin one item (iommufd_test_access_item_destroy)",
  ),
  command(
    "iommufd.selftest.access_write",
    Type.Object({ ctx: Ctx, id: AccessId, iova: U64("bytes"), bytes: Bytes("the user buffer's bytes") }),
    "IOMMU_TEST_OP_ACCESS_RW with MOCK_ACCESS_RW_WRITE: a CPU store through the IOAS (iommufd_access_rw)",
  ),
] as const satisfies readonly MessageDef[];
