/**
 * Commands and events of the `ioas.`/`iopt.` subsystem (packages/iopt): IO
 * address spaces (Linux drivers/iommu/iommufd/io_pagetable.c, ioas.c), the
 * pinned-page objects behind them (pages.c) and in-kernel accesses
 * (device.c iommufd_access_*). See docs/CONVENTIONS.md ("Messages").
 *
 * Units: IOVAs, user VAs and lengths are bigint bytes (`U64`), `last` is
 * inclusive; PFNs and page indexes count 4 KiB pages; `offset` is the byte
 * offset of the first IOVA within the first 4 KiB frame of `pfnRuns`.
 */
import { Type } from "@sinclair/typebox";
import { command, event, type MessageDef, type MessagesOf } from "./message";
import { Bytes, ObjectId, Pfn, U64, UInt } from "./schema";

/** A run of `count` contiguous 4 KiB frames starting at `pfn`. */
export const PfnRunSchema = Type.Object({ pfn: Pfn(), count: UInt(32, "4 KiB frames") });

/** An inclusive IOVA range. */
export const IovaRangeSchema = Type.Object({ start: U64(), last: U64("inclusive") });

/** What iopt knows of an IO page table (iommu_domain); iopt never touches hardware. */
export const DomainDescriptorSchema = Type.Object({
  id: ObjectId("the domain's (HWPT's) object id"),
  ioPageSize: Type.Integer({ minimum: 1, description: "smallest IO page size in bytes (power of two)" }),
  apertureStart: U64("geometry.aperture_start"),
  apertureLast: U64("geometry.aperture_end (inclusive)"),
  enforceCacheCoherency: Type.Optional(Type.Boolean()),
  pgsizeBitmap: Type.Optional(U64("iommu_domain->pgsize_bitmap: bit n set = 2^n-byte IO pages")),
});

/** What a domain needs to map one area: IOVA range, frames, prot. */
export const AreaFillSchema = Type.Object({
  iova: U64(),
  length: U64("bytes"),
  pfnRuns: Type.Array(PfnRunSchema),
  offset: UInt(32, "byte offset of iova within the first frame"),
  prot: UInt(8, "IOMMU_READ=1 | IOMMU_WRITE=2"),
});

const Ioas = () => ObjectId("IOAS object id");
const PagesId = () => UInt(31, "iopt_pages id");

/**
 * The iommufd context's RLIMIT_MEMLOCK accounting mode (ictx->account_mode,
 * IOMMU_OPTION_RLIMIT_MODE): "user" charges user->locked_vm, "mm" the
 * process's mm->locked_vm (what a /dev/vfio/vfio container does). It wins
 * over iopt's global mode; CAP_IPC_LOCK still means no accounting.
 */
const AccountModeSchema = () =>
  Type.Optional(
    Type.Union([Type.Literal("user"), Type.Literal("mm")], {
      description: "ictx->account_mode of the calling context (io_pagetable.c iopt_map_common())",
    }),
  );

/**
 * The iopt_pages an `ioas.mapped` area creates (pages.c iopt_alloc_user_pages()
 * / iopt_alloc_file_pages()): what `iopt.pages_created` carries, folded
 * into the map's one event.
 */
export const CreatedPagesSchema = Type.Object({
  pid: UInt(31),
  uptr: U64("page-aligned user VA of index 0 (file offset when `file` is set)"),
  file: Type.Optional(UInt(31, "file object backing the pages (IOMMU_IOAS_MAP_FILE)")),
  npages: U64("4 KiB pages"),
  writable: Type.Boolean(),
  accountMode: UInt(8, "0 none, 1 user (RLIMIT_MEMLOCK per uid), 2 mm (per process)"),
});

/** Every `ioas.`/`iopt.` message definition. */
export const ioptMessages = [
  command("ioas.create", Type.Object({ ioas: Ioas() }), "IOMMU_IOAS_ALLOC; ioas.c iommufd_ioas_alloc()."),
  event("ioas.created", Type.Object({ ioas: Ioas() }), "An empty IOAS exists (iova_alignment 1)."),
  command(
    "ioas.destroy",
    Type.Object({ ioas: Ioas() }),
    "IOMMU_DESTROY of an IOAS: EBUSY with domains or accesses; unmaps all.",
  ),
  event("ioas.destroyed", Type.Object({ ioas: Ioas() }), "The IOAS is gone."),
  command(
    "ioas.map",
    Type.Object({
      ioas: Ioas(),
      pid: UInt(31, "process whose user VA is mapped"),
      userVa: U64(),
      length: U64("bytes"),
      iova: U64("used with IOMMU_IOAS_MAP_FIXED_IOVA"),
      flags: UInt(32, "IOMMU_IOAS_MAP_FIXED_IOVA | _WRITEABLE | _READABLE"),
      accountMode: AccountModeSchema(),
    }),
    "IOMMU_IOAS_MAP; ioas.c iommufd_ioas_map() → io_pagetable.c iopt_map_user_pages().",
  ),
  event(
    "ioas.mapped",
    Type.Object({
      ioas: Ioas(),
      iova: U64(),
      length: U64("bytes"),
      pages: PagesId(),
      startByte: U64("byte offset of the area within its iopt_pages"),
      prot: UInt(8, "IOMMU_READ=1 | IOMMU_WRITE=2"),
      pfnRuns: Type.Array(PfnRunSchema, { description: "frames backing the area (empty without domains)" }),
      offset: UInt(32),
      created: Type.Optional(CreatedPagesSchema),
    }),
    "An area was inserted and every attached domain must map it. With `created`, the area's iopt_pages is new: it is created first and, when `pfnRuns` is not empty, its pages under the area are pinned to those frames and charged (MAP and MAP_FILE emit this one event).",
  ),
  command(
    "ioas.map_file",
    Type.Object({
      ioas: Ioas(),
      pid: UInt(31, "the calling process (accounting)"),
      file: UInt(31, "file object id (the fd's file)"),
      start: U64("byte offset in the file"),
      length: U64("bytes"),
      iova: U64("used with IOMMU_IOAS_MAP_FIXED_IOVA"),
      flags: UInt(32, "IOMMU_IOAS_MAP_FIXED_IOVA | _WRITEABLE | _READABLE"),
      accountMode: AccountModeSchema(),
    }),
    "IOMMU_IOAS_MAP_FILE; ioas.c iommufd_ioas_map_file() → io_pagetable.c iopt_map_file_pages().",
  ),
  command(
    "ioas.unmap",
    Type.Object({ ioas: Ioas(), iova: U64(), length: U64("bytes; iova 0 + length 2^64-1 = all") }),
    "IOMMU_IOAS_UNMAP; io_pagetable.c iopt_unmap_iova()/iopt_unmap_all().",
  ),
  event(
    "ioas.unmapped",
    Type.Object({
      ioas: Ioas(),
      iova: U64(),
      length: U64(),
      pagesDestroyed: Type.Optional(
        Type.Literal(true, { description: "the area was its iopt_pages' last holder" }),
      ),
    }),
    "One whole area was removed from the IOAS and its domains. With `pagesDestroyed`, its iopt_pages lost its last holder: every page still pinned is unpinned and uncharged and the pages are freed (iopt_put_pages → iopt_release_pages).",
  ),
  command(
    "ioas.cut",
    Type.Object({ ioas: Ioas(), iovas: Type.Array(U64("split so that this IOVA ends an area")) }),
    "io_pagetable.c iopt_cut_iova(): split areas (VFIO type1 compat partial unmap).",
  ),
  event(
    "ioas.area_split",
    Type.Object({ ioas: Ioas(), iova: U64("the area's first IOVA"), at: U64("last IOVA of the left part") }),
    "iopt_area_split(): one area became two over the same pages; domains unchanged.",
  ),
  command(
    "ioas.copy",
    Type.Object({
      dstIoas: Ioas(),
      srcIoas: Ioas(),
      srcIova: U64(),
      dstIova: U64(),
      length: U64(),
      flags: UInt(32, "IOMMU_IOAS_MAP_* flags"),
    }),
    "IOMMU_IOAS_COPY; ioas.c iommufd_ioas_copy(): share the source's pinned pages.",
  ),
  command(
    "ioas.allow_iovas",
    Type.Object({ ioas: Ioas(), ranges: Type.Array(IovaRangeSchema) }),
    "IOMMU_IOAS_ALLOW_IOVAS; io_pagetable.c iopt_set_allow_iova().",
  ),
  event(
    "ioas.iovas_allowed",
    Type.Object({ ioas: Ioas(), ranges: Type.Array(IovaRangeSchema) }),
    "Allowed set.",
  ),
  command(
    "ioas.reserve",
    Type.Object({ ioas: Ioas(), start: U64(), last: U64(), owner: UInt(32, "0 = test (ADD_RESERVED)") }),
    "iopt_reserve_iova(): device reserved regions, IOMMU_TEST_OP_ADD_RESERVED.",
  ),
  event(
    "ioas.reserved",
    Type.Object({ ioas: Ioas(), start: U64(), last: U64(), owner: UInt(32) }),
    "A reserved range.",
  ),
  command(
    "ioas.unreserve",
    Type.Object({ ioas: Ioas(), owner: UInt(32) }),
    "iopt_remove_reserved_iova(): drop an owner's ranges.",
  ),
  event("ioas.unreserved", Type.Object({ ioas: Ioas(), owner: UInt(32) }), "An owner's ranges are gone."),
  command(
    "ioas.set_huge_pages",
    Type.Object({ ioas: Ioas(), val64: U64("IOMMU_OPTION_HUGE_PAGES value: 1 enable, 0 disable") }),
    "IOMMU_OPTION(IOMMU_OPTION_HUGE_PAGES, SET); ioas.c iommufd_ioas_option_huge_pages().",
  ),
  event(
    "ioas.alignment_changed",
    Type.Object({ ioas: Ioas(), disableLargePages: Type.Boolean(), iovaAlignment: U64("bytes") }),
    "The IOAS's large-page option / IOVA alignment changed.",
  ),
  command(
    "ioas.attach_domain",
    Type.Object({ ioas: Ioas(), domain: DomainDescriptorSchema }),
    "io_pagetable.c iopt_table_add_domain(): fill the domain with every area.",
  ),
  event(
    "ioas.domain_attached",
    Type.Object({
      ioas: Ioas(),
      domain: DomainDescriptorSchema,
      iovaAlignment: U64(),
      fill: Type.Array(AreaFillSchema),
    }),
    "The domain is attached and must map every area in `fill`.",
  ),
  command(
    "ioas.detach_domain",
    Type.Object({ ioas: Ioas(), domain: ObjectId() }),
    "io_pagetable.c iopt_table_remove_domain(): unfill the domain.",
  ),
  event(
    "ioas.domain_detached",
    Type.Object({ ioas: Ioas(), domain: ObjectId(), iovaAlignment: U64() }),
    "The domain is empty and detached.",
  ),
  event(
    "iopt.pages_created",
    Type.Object({
      pages: PagesId(),
      pid: UInt(31),
      uptr: U64("page-aligned user VA of index 0 (file offset when `file` is set)"),
      file: Type.Optional(UInt(31, "file object backing the pages (IOMMU_IOAS_MAP_FILE)")),
      npages: U64("4 KiB pages"),
      writable: Type.Boolean(),
      accountMode: UInt(8, "0 none, 1 user (RLIMIT_MEMLOCK per uid), 2 mm (per process)"),
    }),
    "pages.c iopt_alloc_pages(): a pinnable slice of user memory. Decide now folds it into `ioas.mapped.created`; kept so older logs replay.",
  ),
  event(
    "iopt.pages_pinned",
    Type.Object({ pages: PagesId(), index: U64("first page index"), pfnRuns: Type.Array(PfnRunSchema) }),
    "Pages [index, index+Σcount) were pinned (pin_user_pages) and charged.",
  ),
  event(
    "iopt.pages_unpinned",
    Type.Object({ pages: PagesId(), index: U64(), count: U64("4 KiB pages") }),
    "Pages were unpinned (unpin_user_pages) and uncharged.",
  ),
  event("iopt.pages_destroyed", Type.Object({ pages: PagesId() }), "The last area/access reference is gone."),
  command(
    "iopt.set_rlimit_mode",
    Type.Object({ val64: U64("IOMMU_OPTION_RLIMIT_MODE: 0 per-user, 1 per-mm") }),
    "IOMMU_OPTION(IOMMU_OPTION_RLIMIT_MODE, SET); ioas.c iommufd_option_rlimit_mode().",
  ),
  event("iopt.rlimit_mode_set", Type.Object({ mode: UInt(8, "1 user, 2 mm") }), "Accounting mode."),
  command(
    "iopt.access.create",
    Type.Object({
      access: ObjectId(),
      ioas: Ioas(),
      iovaAlignment: Type.Optional(U64()),
      internal: Type.Optional(
        Type.Boolean({
          description:
            "iommufd_access_create_internal(): no unmap callback — an unmap of memory it pins is EBUSY (a HW queue's)",
        }),
      ),
    }),
    "iommufd_access_create() + iommufd_access_attach(), or the internal variants.",
  ),
  event(
    "iopt.access_created",
    Type.Object({
      access: ObjectId(),
      ioas: Ioas(),
      iovaAlignment: U64(),
      internal: Type.Optional(Type.Literal(true)),
    }),
    "An in-kernel access is attached to an IOAS.",
  ),
  command("iopt.access.destroy", Type.Object({ access: ObjectId() }), "iommufd_access_destroy()."),
  event("iopt.access_destroyed", Type.Object({ access: ObjectId() }), "The access is gone."),
  command(
    "iopt.access.replace_ioas",
    Type.Object({ access: ObjectId(), ioas: Ioas() }),
    "iommufd_access_replace(): move an access without pins to another IOAS.",
  ),
  event("iopt.access_ioas_replaced", Type.Object({ access: ObjectId(), ioas: Ioas() }), "New IOAS."),
  command(
    "iopt.access.pin",
    Type.Object({
      access: ObjectId(),
      pin: UInt(31, "caller-chosen id of this pin (IOMMU_TEST_OP_ACCESS_PAGES out_access_pages_id)"),
      iova: U64(),
      length: U64(),
      write: Type.Boolean(),
    }),
    "iommufd_access_pin_pages(): pin the pages behind an IOVA range.",
  ),
  event(
    "iopt.access_pinned",
    Type.Object({
      access: ObjectId(),
      pin: UInt(31),
      iova: U64(),
      length: U64(),
      areas: Type.Array(
        Type.Object({ pages: PagesId(), index: U64(), count: U64(), iova: U64("area iova") }),
      ),
    }),
    "The access holds these page ranges.",
  ),
  command(
    "iopt.access.unpin",
    Type.Object({ access: ObjectId(), pin: UInt(31) }),
    "iommufd_access_unpin_pages().",
  ),
  event("iopt.access_unpinned", Type.Object({ access: ObjectId(), pin: UInt(31) }), "A pin was released."),
  command(
    "iopt.access.write",
    Type.Object({ access: ObjectId(), iova: U64(), bytes: Bytes() }),
    "iommufd_access_rw(IOMMUFD_ACCESS_RW_WRITE): CPU store through IOVA.",
  ),
  command(
    "iopt.mock.alloc",
    Type.Object({ domain: ObjectId() }),
    "Allocate a selftest mock domain (selftest.c mock_domain_alloc_paging; 2 KiB IO pages).",
  ),
  event("iopt.mock.allocated", Type.Object({ domain: ObjectId() }), "An empty mock domain exists."),
  command("iopt.mock.free", Type.Object({ domain: ObjectId() }), "Free a detached mock domain."),
  event("iopt.mock.freed", Type.Object({ domain: ObjectId() }), "The mock domain is gone."),
] as const satisfies readonly MessageDef[];

/** The in-memory `ioas.`/`iopt.` messages. */
export type IoptMessage = MessagesOf<typeof ioptMessages>;
