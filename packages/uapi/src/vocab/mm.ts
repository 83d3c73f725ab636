/**
 * Commands and events of the `mm.` subsystem (packages/iopt): simulated
 * processes with user virtual memory, and physical RAM. See
 * docs/CONVENTIONS.md ("Messages").
 *
 * Units: addresses and lengths are bigint bytes (`U64`); `count`s are 4 KiB
 * pages; PFNs are 4 KiB physical frame numbers.
 */
import { Type } from "@sinclair/typebox";
import { command, event, type MessageDef, type MessagesOf } from "./message";
import { Bytes, Pfn, U64, UInt } from "./schema";

const Pid = () => UInt(31, "process id");

/** One run of faulted-in pages: `count` pages from `va` get frames `pfn … pfn+count-1`. */
export const MmFaultRun = Type.Object({
  va: U64("user virtual address of the first page (4 KiB aligned)"),
  count: UInt(32, "4 KiB pages"),
  pfn: Pfn("first new frame"),
  shared: Type.Boolean({
    description: "installed in the shared object (MAP_SHARED) rather than the process",
  }),
  copyFrom: Type.Optional(
    Type.Array(Pfn(), { description: "per page: the frame whose bytes are copied (COW break / unshare)" }),
  ),
  object: Type.Optional(
    UInt(31, "fault of a file/shmem object itself (IOMMU_IOAS_MAP_FILE): `va` is then the byte offset in it"),
  ),
});

/**
 * Page-table frames an event allocates for the process's CPU page table
 * (only for a process that has one, see `mm.pgd.allocated`): `count`
 * consecutive 4 KiB frames from `pfn`, used in order as new PDPT/PD/PT
 * tables are needed.
 */
export const MmPtFrames = Type.Object({
  pfn: Pfn("first page-table frame"),
  count: UInt(32, "4 KiB frames"),
});

/** Every `mm.` message definition. */
export const mmMessages = [
  command(
    "mm.spawn",
    Type.Object({
      pid: Pid(),
      uid: Type.Optional(UInt(32, "user id (RLIMIT_MEMLOCK per-user accounting)")),
      memlockLimit: Type.Optional(U64("RLIMIT_MEMLOCK in bytes (default 8 MiB)")),
      capIpcLock: Type.Optional(
        Type.Boolean({ description: "CAP_IPC_LOCK: pinned pages are not accounted" }),
      ),
    }),
    "Create an empty process (an mm_struct with no VMAs).",
  ),
  event(
    "mm.spawned",
    Type.Object({ pid: Pid(), uid: UInt(32), memlockLimit: U64(), capIpcLock: Type.Boolean() }),
    "A process exists.",
  ),
  command(
    "mm.mmap",
    Type.Object({
      pid: Pid(),
      addr: Type.Optional(U64("MAP_FIXED address (4 KiB aligned); absent = chosen top-down")),
      length: U64("bytes (rounded up to 4 KiB)"),
      prot: UInt(8, "PROT_READ=1 | PROT_WRITE=2"),
      shared: Type.Boolean({ description: "MAP_SHARED (else MAP_PRIVATE)" }),
      file: Type.Optional(UInt(31, "file object id (else anonymous)")),
      offset: Type.Optional(U64("file offset in bytes (4 KiB aligned)")),
    }),
    "mmap(2) in a simulated process; Linux mm/mmap.c do_mmap().",
  ),
  event(
    "mm.mapped",
    Type.Object({
      pid: Pid(),
      addr: U64(),
      length: U64(),
      prot: UInt(8),
      shared: Type.Boolean(),
      object: Type.Optional(UInt(31, "backing object (file, or a new shmem object for MAP_SHARED anon)")),
      objectCreated: Type.Optional(Type.Boolean()),
      pgoff: U64("offset of addr in the object, bytes"),
    }),
    "A VMA was created (replacing any VMA parts in its range).",
  ),
  command("mm.munmap", Type.Object({ pid: Pid(), addr: U64(), length: U64() }), "munmap(2)."),
  event("mm.unmapped", Type.Object({ pid: Pid(), addr: U64(), length: U64() }), "A VA range was unmapped."),
  command(
    "mm.write",
    Type.Object({ pid: Pid(), va: U64(), bytes: Bytes() }),
    "Store bytes at a user VA (faults pages in, breaks COW).",
  ),
  event(
    "mm.faulted",
    Type.Object({
      pid: Pid(),
      runs: Type.Array(MmFaultRun),
      pt: Type.Optional(MmPtFrames),
    }),
    "Page faults resolved: frames allocated (and bytes copied for COW breaks); mm/memory.c handle_mm_fault().",
  ),
  event(
    "mm.populated",
    Type.Object({
      pid: Pid(),
      va: U64("user virtual address of the first page (4 KiB aligned)"),
      count: UInt(32, "4 KiB pages"),
      pt: Type.Optional(MmPtFrames),
    }),
    "Minor faults: PTEs installed for pages the mm already holds (a shared page another process faulted in); mm/memory.c do_read_fault() finding the page cache page.",
  ),
  event(
    "mm.pgd.allocated",
    Type.Object({
      pid: Pid(),
      pgd: U64("physical address of the PML4 table (4 KiB aligned)"),
      frames: UInt(
        32,
        "4 KiB frames used: the PML4 and the PDPT/PD/PT tables for the pages present now, consecutive from pgd",
      ),
    }),
    "The process's x86-64 4-level CPU page table was built in RAM from its present pages (first SVA bind: the IOMMU walks it); from then on every mm event keeps it current. Intel SDM Vol. 3A §4.5.",
  ),
  event(
    "mm.phys.written",
    Type.Object({ pa: U64("physical address, bytes"), bytes: Bytes() }),
    "Bytes stored in RAM at a physical address (CPU store or device DMA).",
  ),
  command("mm.fork", Type.Object({ parent: Pid(), child: Pid() }), "fork(2): private pages become COW."),
  event(
    "mm.forked",
    Type.Object({
      parent: Pid(),
      child: Pid(),
      copies: Type.Array(Type.Object({ va: U64(), pfn: Pfn(), from: Pfn() }), {
        description: "pinned private pages copied eagerly for the child (mm/memory.c copy_present_page)",
      }),
    }),
    "A child process exists with a copy of the parent's address space.",
  ),
  command("mm.exit", Type.Object({ pid: Pid() }), "exit(2): the mm goes away (pinned frames stay)."),
  event("mm.exited", Type.Object({ pid: Pid() }), "A process is gone."),
  command(
    "mm.file.create",
    Type.Object({ file: UInt(31), length: U64("bytes") }),
    "Create a file object (page cache) of the given size, zero filled.",
  ),
  event("mm.file.created", Type.Object({ file: UInt(31), length: U64() }), "A file object exists."),
] as const satisfies readonly MessageDef[];

/** The in-memory `mm.` messages. */
export type MmMessage = MessagesOf<typeof mmMessages>;
