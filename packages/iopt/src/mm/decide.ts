/**
 * Deciding `mm.` commands: validation, address choice, fault planning.
 * Every check Linux makes returns its errno; every allocation is a
 * fault-injection step.
 */
import type { FrameStore, SubsystemDecideContext } from "@iommu-sim/eventlog";
import { type Errno, errno, isErrno, type MmMessage } from "@iommu-sim/uapi";
import { pinCount } from "../pin-counts";
import { faultEvents, hasFaults, newFaultPlan, resolvePages } from "./fault";
import { PTES_PER_FRAME, words } from "./pte";
import { DEFAULT_MEMLOCK_LIMIT, type MmState, PAGE_SIZE, TASK_SIZE } from "./state";
import { overlaps, placeTopDown } from "./vma";

/** The part of the root state `mm` reads: its own slice, and iopt's pin counts (fork copies pinned pages). */
export interface MmRoot {
  readonly mm: MmState;
  readonly iopt?: { readonly pinCounts: FrameStore };
}

type Cmd<T extends MmMessage["type"]> = Extract<MmMessage, { type: T }>;
/** An `mm.` event. */
export type MmEvent = Extract<MmMessage, { type: `mm.${string}ed` | "mm.phys.written" }>;
type Ctx = SubsystemDecideContext<MmRoot>;

const pageAligned = (x: bigint) => x % BigInt(PAGE_SIZE) === 0n;

/** spawn: EEXIST for a live pid. */
export function decideSpawn(mm: MmState, c: Cmd<"mm.spawn">["data"], ctx: Ctx): MmEvent[] | Errno {
  if (mm.processes.has(c.pid)) return errno("EEXIST", `pid ${c.pid} exists`);
  const e = ctx.step("mm.spawn");
  if (e) return e;
  return [
    {
      type: "mm.spawned",
      data: {
        pid: c.pid,
        uid: c.uid ?? 1000,
        memlockLimit: c.memlockLimit ?? DEFAULT_MEMLOCK_LIMIT,
        capIpcLock: c.capIpcLock ?? false,
      },
    },
  ];
}

/**
 * mmap: EINVAL for a zero length, unaligned MAP_FIXED address or offset, or
 * a range beyond TASK_SIZE; ESRCH for no process; EBADF for an unknown
 * file; ENOMEM when no address range is free.
 */
export function decideMmap(mm: MmState, c: Cmd<"mm.mmap">["data"], ctx: Ctx): MmEvent[] | Errno {
  const proc = mm.processes.get(c.pid);
  if (proc === undefined) return errno("ESRCH", `no process ${c.pid}`);
  if (c.length === 0n) return errno("EINVAL", "zero length");
  const lengthB = ((c.length + BigInt(PAGE_SIZE) - 1n) / BigInt(PAGE_SIZE)) * BigInt(PAGE_SIZE);
  if (lengthB > BigInt(TASK_SIZE)) return errno("ENOMEM", "length exceeds the address space");
  const length = Number(lengthB);
  const offset = c.offset ?? 0n;
  if (!pageAligned(offset)) return errno("EINVAL", "offset not page aligned");
  if (c.file !== undefined) {
    const f = mm.objects.get(c.file);
    if (f === undefined || f.kind !== "file") return errno("EBADF", `no file ${c.file}`);
  }
  let addr: number;
  if (c.addr !== undefined) {
    if (!pageAligned(c.addr)) return errno("EINVAL", "MAP_FIXED address not page aligned");
    if (c.addr + lengthB > BigInt(TASK_SIZE)) return errno("ENOMEM", "MAP_FIXED range beyond TASK_SIZE");
    addr = Number(c.addr);
  } else {
    addr = placeTopDown(proc.vmas, length);
    if (addr < 0) return errno("ENOMEM", "no free address range");
  }
  const e = ctx.step("mm.mmap");
  if (e) return e;
  const anonShared = c.shared && c.file === undefined;
  const object = anonShared ? mm.nextShmem : c.file;
  return [
    {
      type: "mm.mapped",
      data: {
        pid: c.pid,
        addr: BigInt(addr),
        length: lengthB,
        prot: c.prot,
        shared: c.shared,
        ...(object === undefined ? {} : { object }),
        ...(anonShared ? { objectCreated: true } : {}),
        pgoff: anonShared ? 0n : offset,
      },
    },
  ];
}

/** munmap: EINVAL for an unaligned address or zero length; ESRCH for no process. Unmapping a hole succeeds. */
export function decideMunmap(mm: MmState, c: Cmd<"mm.munmap">["data"]): MmEvent[] | Errno {
  if (!mm.processes.has(c.pid)) return errno("ESRCH", `no process ${c.pid}`);
  if (!pageAligned(c.addr) || c.length === 0n) return errno("EINVAL", "bad munmap range");
  const length = ((c.length + BigInt(PAGE_SIZE) - 1n) / BigInt(PAGE_SIZE)) * BigInt(PAGE_SIZE);
  if (c.addr + length > BigInt(TASK_SIZE)) return errno("EINVAL", "range beyond TASK_SIZE");
  const proc = mm.processes.get(c.pid)!;
  if (!overlaps(proc.vmas, Number(c.addr), Number(c.addr + length))) return [];
  return [{ type: "mm.unmapped", data: { pid: c.pid, addr: c.addr, length } }];
}

/**
 * A CPU store of `bytes` at user VA `va`: faults pages in (COW breaks
 * included) and writes RAM. EFAULT where no writable VMA covers the range.
 */
export function decideWrite(mm: MmState, c: Cmd<"mm.write">["data"], ctx: Ctx): MmEvent[] | Errno {
  if (c.bytes.length === 0) return [];
  const end = c.va + BigInt(c.bytes.length);
  if (end > BigInt(TASK_SIZE)) return errno("EFAULT", "address beyond user space");
  const va = Number(c.va);
  const first = Math.floor(va / PAGE_SIZE);
  const npages = Math.ceil((va + c.bytes.length) / PAGE_SIZE) - first;
  const plan = newFaultPlan(mm);
  const runs = resolvePages(mm, c.pid, first * PAGE_SIZE, npages, "write", plan);
  if (isErrno(runs)) return runs;
  if (hasFaults(plan)) {
    const e = ctx.step("mm.fault");
    if (e) return e;
  }
  const events: MmEvent[] = faultEvents(plan);
  let offset = va % PAGE_SIZE;
  let done = 0;
  for (const run of runs) {
    const n = Math.min(run.count * PAGE_SIZE - offset, c.bytes.length - done);
    events.push({
      type: "mm.phys.written",
      data: { pa: BigInt(run.pfn * PAGE_SIZE + offset), bytes: c.bytes.slice(done, done + n) },
    });
    done += n;
    offset = 0;
  }
  return events;
}

/**
 * fork: ESRCH without the parent, EEXIST for a live child pid. Private pages
 * with a long-term pin are copied for the child at once, as Linux's
 * copy_present_page() does for pages that may be DMA pinned, so the pinned
 * frame stays the parent's.
 */
export function decideFork(mm: MmState, c: Cmd<"mm.fork">["data"], ctx: Ctx): MmEvent[] | Errno {
  const parent = mm.processes.get(c.parent);
  if (parent === undefined) return errno("ESRCH", `no process ${c.parent}`);
  if (mm.processes.has(c.child)) return errno("EEXIST", `pid ${c.child} exists`);
  const e = ctx.step("mm.fork");
  if (e) return e;
  const pins = ctx.root.iopt?.pinCounts;
  const copies: { va: bigint; pfn: number; from: number }[] = [];
  let next = mm.nextPfn;
  if (pins !== undefined) {
    for (const [frame, bytes] of parent.pt.frames()) {
      const w = words(bytes);
      for (let i = 0; i < PTES_PER_FRAME; i++) {
        const lo = w[i * 2]!;
        if (lo !== 0 && pinCount(pins, lo - 1) > 0) {
          copies.push({ va: BigInt((frame * PTES_PER_FRAME + i) * PAGE_SIZE), pfn: next++, from: lo - 1 });
        }
      }
    }
  }
  return [{ type: "mm.forked", data: { parent: c.parent, child: c.child, copies } }];
}

/** exit: ESRCH for no process. */
export function decideExit(mm: MmState, c: Cmd<"mm.exit">["data"]): MmEvent[] | Errno {
  if (!mm.processes.has(c.pid)) return errno("ESRCH", `no process ${c.pid}`);
  return [{ type: "mm.exited", data: { pid: c.pid } }];
}

/** file.create: EEXIST for a used id, EINVAL for a zero length. */
export function decideFileCreate(mm: MmState, c: Cmd<"mm.file.create">["data"], ctx: Ctx): MmEvent[] | Errno {
  if (mm.objects.has(c.file)) return errno("EEXIST", `object ${c.file} exists`);
  if (c.length === 0n || c.length > BigInt(Number.MAX_SAFE_INTEGER))
    return errno("EINVAL", "bad file length");
  const e = ctx.step("mm.file_create");
  if (e) return e;
  return [{ type: "mm.file.created", data: { file: c.file, length: c.length } }];
}
