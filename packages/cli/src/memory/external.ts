/**
 * Real processes' memory in the model: how IOMMU_IOAS_MAP of an exec'd
 * program's buffer pins pages whose bytes are the program's own.
 *
 * The model's `mm` knows simulated processes only; a program run under
 * `iommu-sim exec` is mirrored into it, through ordinary logged `mm.`
 * commands, so the log stays replayable and every consumer of `mm` (iopt's
 * pinning, MD_CHECK_MAP/MD_CHECK_REFS, hardware walkers reading `mm.ram`)
 * works unchanged:
 *
 * - **Mirror** (before a command that names user memory: `ioas.map`, and
 *   the selftest's MD_CHECK_MAP/_REFS): the process is `mm.spawn`ed with its
 *   real uid, RLIMIT_MEMLOCK and CAP_IPC_LOCK, and each part of the range
 *   that a real mapping (/proc/<pid>/maps) covers becomes an `mm.mmap` at
 *   the same address with the same r/w permissions: private memory as
 *   private anonymous memory, a MAP_SHARED mapping of a file or shmem
 *   object (memfd, MAP_SHARED|MAP_ANONYMOUS) as a shared mapping of one
 *   model file object per real object (`mm.file.create`), so processes
 *   sharing memory — a parent and its forked child — share model frames as
 *   they share pages. Parts no real mapping covers stay unmapped, so
 *   pinning them fails with EFAULT as in Linux. Pinning then faults the
 *   mirrored pages in to model frames (`mm.faulted`).
 * - **Read sync** (before anything reads memory through a device or an
 *   access: `vtd.dma`, `smmu.dma` sync every mirrored page; the selftest's
 *   ACCESS_RW syncs the pages behind its IOVAs): each page is compared
 *   with the process's page (/proc/<pid>/mem) and the bytes that differ are
 *   logged as `mm.write` — the CPU stores the program made, recorded when
 *   the model needs them.
 * - **Write-through**: every `mm.phys.written` (device DMA, access writes)
 *   landing in a frame a mirrored live process maps is written to that
 *   process at the same virtual address, so the program sees its device's
 *   writes in its own buffer.
 *
 * A replay (no live process) re-applies the same `mm.` records: it
 * reproduces the model's state exactly, including the bytes the model
 * read; the writes into the real process are side effects that a replay
 * does not repeat.
 *
 * Limits: read-only mappings are mirrored read-only and their bytes are not
 * synced (an `mm.write` there would fault), so a device reading them sees
 * zeros; a mapping the program replaces after it was mirrored (munmap +
 * mmap at the same address) keeps its first mirror; a shared object's
 * model size is its size when first mirrored.
 */
import type { LogRecord, Message } from "@iommu-sim/eventlog";
import type { UserMemory } from "@iommu-sim/iommufd";
import {
  findVma,
  getPages,
  type IoptState,
  type MmState,
  PAGE_SIZE,
  PROT_WRITE,
  readUser,
  TASK_SIZE,
  type Vma,
} from "@iommu-sim/iopt";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import {
  type FdFile,
  mappedObjectSize,
  type ProcCredentials,
  processAlive,
  type RealVma,
  readCredentials,
  readFdFile,
  readMaps,
} from "./proc-info";

/** The root slices the mirror reads. */
export interface ExternalRoot {
  readonly mm: MmState;
  readonly iopt: Pick<IoptState, "ioas" | "pages">;
}

/** The log the mirror commits through (an `EventLog`). */
export interface ExternalLog<R extends ExternalRoot> {
  dispatch(command: Message): readonly LogRecord[] | Errno;
  peek(): R;
  readonly commands$: {
    subscribe(f: (c: { command: LogRecord; events: readonly LogRecord[] }) => void): unknown;
  };
}

/** Where a mirrored frame is: a private page of a process, or page `index` of a shared object. */
type FrameOwner =
  | { readonly pid: number; readonly vpn: number }
  | { readonly object: number; readonly index: number };

/** A shared mapping the mirror made: [start, end) of a process maps `object` from byte `offset`. */
interface SharedMapping {
  readonly start: number;
  readonly end: number;
  readonly object: number;
  readonly offset: number;
}

/** The fields of an `mm.faulted` run the mirror reads. */
interface FaultRunData {
  readonly va: bigint;
  readonly count: number;
  readonly pfn: number;
  readonly shared: boolean;
  readonly object?: number;
}

/** Pages compared per /proc/<pid>/mem read when syncing (64 × 4 KiB). */
const SYNC_CHUNK = 64 * PAGE_SIZE;
/** Model file ids for mirrored shared objects count up from here (clear of ids programs choose in tests). */
const FIRST_OBJECT_ID = 0x4000_0000;
/** TASK_SIZE as a bigint, for range checks on user VAs (bytes). */
const TASK_SIZE_VA = BigInt(TASK_SIZE);
/** Commands that read RAM through a device: the mirror syncs before them. */
const READS_RAM: ReadonlySet<string> = new Set(["vtd.dma", "smmu.dma"]);

/** The uncovered parts of [start, end) given sorted, disjoint VMAs (bytes, page aligned). */
function gaps(vmas: readonly Vma[], start: number, end: number): [number, number][] {
  const out: [number, number][] = [];
  let cur = start;
  while (cur < end) {
    const v = findVma(vmas, cur);
    if (v !== undefined) {
      cur = v.end;
      continue;
    }
    let next = end;
    for (const w of vmas) {
      if (w.start > cur) {
        next = Math.min(next, w.start);
        break;
      }
    }
    out.push([cur, next]);
    cur = next;
  }
  return out;
}

/** Part of a real mapping [vmaStart, vmaEnd); `extent` is where the whole mapping ends in its object (bytes). */
interface Piece extends RealVma {
  readonly vmaStart: number;
  readonly vmaEnd: number;
  readonly extent: number;
}

/** The parts of [start, end) that real mappings cover, with their permissions and object offsets. */
function realPieces(real: readonly RealVma[], start: number, end: number): Piece[] {
  const out: Piece[] = [];
  for (const v of real) {
    const s = Math.max(v.start, start);
    const e = Math.min(v.end, end);
    if (s >= e) continue;
    const extent = v.offset + (v.end - v.start);
    out.push({
      ...v,
      start: s,
      end: e,
      offset: v.offset + (s - v.start),
      vmaStart: v.start,
      vmaEnd: v.end,
      extent,
    });
  }
  return out;
}

/**
 * The mirror of real processes in one model (see the module comment).
 * One per daemon; the drivers register the processes making ioctls
 * (`track`), the daemon reports their exits (`exited`).
 */
export class ExternalMemory<R extends ExternalRoot> {
  /** Live processes' memory, by pid. */
  private readonly memories = new Map<number, UserMemory>();
  /** Processes this mirror spawned in the model (until they exit). */
  private readonly mirrored = new Set<number>();
  /** Model frame → what it holds, for writing device stores through. */
  private readonly owners = new Map<number, FrameOwner>();
  /** pid → (vpn → frame) of private frames: the reverse of `owners`. */
  private readonly privateFrames = new Map<number, Map<number, number>>();
  /** Real shared object ("dev:inode") → model file id. */
  private readonly objects = new Map<string, number>();
  /** pid → the shared mappings mirrored for it (kept after it exits: its pins outlive it). */
  private readonly sharedMappings = new Map<number, SharedMapping[]>();
  private readonly credentials: (pid: number) => ProcCredentials | undefined;
  private readonly maps: (pid: number) => RealVma[] | undefined;
  private readonly alive: (pid: number) => boolean;
  private readonly objectSize: (pid: number, start: number, end: number) => number | undefined;
  private readonly fdFile: (pid: number, fd: number) => FdFile | undefined;

  /**
   * `options` replace the /proc lookups (tests): credentials, maps,
   * liveness and shared-object sizes of a pid.
   */
  constructor(
    private readonly log: ExternalLog<R>,
    options: {
      credentials?: (pid: number) => ProcCredentials | undefined;
      maps?: (pid: number) => RealVma[] | undefined;
      alive?: (pid: number) => boolean;
      objectSize?: (pid: number, start: number, end: number) => number | undefined;
      fdFile?: (pid: number, fd: number) => FdFile | undefined;
    } = {},
  ) {
    this.credentials = options.credentials ?? readCredentials;
    this.maps = options.maps ?? readMaps;
    this.alive = options.alive ?? processAlive;
    this.objectSize = options.objectSize ?? mappedObjectSize;
    this.fdFile = options.fdFile ?? readFdFile;
    log.commands$.subscribe((c) => this.committed(c.command, c.events));
  }

  /** Register (or refresh) the memory of live process `pid`. */
  track(pid: number, memory: UserMemory): void {
    if (this.memories.get(pid) !== memory) this.memories.set(pid, memory);
  }

  /**
   * Process `pid` is gone (its connection ended, its files released): its
   * mirror exits (`mm.exit`; pinned frames stay pinned, as Linux keeps
   * pages pinned after the mm is gone) and nothing is written to it any more.
   */
  exited(pid: number): void {
    this.memories.delete(pid);
    if (this.mirrored.delete(pid) && this.log.peek().mm.processes.has(pid)) {
      this.log.dispatch({ type: "mm.exit", data: { pid } });
    }
  }

  /**
   * Process `pid` unmapped [addr, addr + length) (or mapped over it with
   * MAP_FIXED): its mirror unmaps the same pages (`mm.munmap`), so a later
   * map of that address mirrors the new memory, while pages pinned from the
   * old one stay pinned and are no longer the process's — as in Linux.
   */
  unmapped(pid: number, addr: bigint, length: bigint): void {
    const proc = this.mirrored.has(pid) ? this.log.peek().mm.processes.get(pid) : undefined;
    if (proc === undefined || length <= 0n || addr >= TASK_SIZE_VA) return;
    const start = Number(addr) - (Number(addr) % PAGE_SIZE);
    const endB = addr + length > TASK_SIZE_VA ? TASK_SIZE_VA : addr + length;
    const end = Math.ceil(Number(endB) / PAGE_SIZE) * PAGE_SIZE;
    if (gaps(proc.vmas, start, end).reduce((n, [s, e]) => n + (e - s), 0) === end - start) return;
    this.log.dispatch({ type: "mm.munmap", data: { pid, addr: BigInt(start), length: BigInt(end - start) } });
    const kept = (this.sharedMappings.get(pid) ?? []).filter((m) => m.end <= start || m.start >= end);
    this.sharedMappings.set(pid, kept);
  }

  /**
   * Let go of mirrored processes other than `caller` that have died
   * (`exited`). The daemon learns of an exit when the process's connection
   * closes, which it may see after a request of another process that
   * already waited for that exit (a parent after waitpid(), as the
   * selftest's fork_gone): a command that pins a dead process's memory must
   * find its mm gone, as Linux's pin_user_pages_remote() does. Only checked
   * while another process is mirrored (one /proc read each).
   */
  reap(caller: number): void {
    if (this.mirrored.size === 0 || (this.mirrored.size === 1 && this.mirrored.has(caller))) return;
    for (const pid of [...this.mirrored]) if (pid !== caller && !this.alive(pid)) this.exited(pid);
  }

  /**
   * A port over the log for drivers: `dispatch` mirrors the user memory an
   * `ioas.map` names, and syncs every mirrored page before commands that
   * read RAM through a device.
   */
  port(): { dispatch(command: Message): readonly LogRecord[] | Errno; peek(): R } {
    return {
      dispatch: (command) => {
        if (command.type === "ioas.map") {
          const d = command.data as { pid: number; userVa: bigint; length: bigint };
          this.mirror(d.pid, d.userVa, d.length);
        } else if (READS_RAM.has(command.type)) {
          this.sync();
        }
        return this.log.dispatch(command);
      },
      peek: () => this.log.peek(),
    };
  }

  /**
   * Mirror [va, va + length) of live process `pid` into the model (see the
   * module comment). Does nothing for a process not registered with
   * `track` (a simulated process, or one already gone) or an empty or
   * non-user range; errors of the mirroring commands are left for the
   * command that needs the memory to report (ESRCH, EFAULT).
   */
  mirror(pid: number, va: bigint, length: bigint): void {
    if (!this.memories.has(pid) || length <= 0n || va >= TASK_SIZE_VA) return;
    const endB = va + length;
    const start = Number(va) - (Number(va) % PAGE_SIZE);
    const end = Math.ceil(Number(endB > TASK_SIZE_VA ? TASK_SIZE_VA : endB) / PAGE_SIZE) * PAGE_SIZE;
    const proc = this.ensureProcess(pid);
    if (proc === undefined) return;
    // Mirrored already (a buffer mapped again and again, the usual case): one lookup, no /proc read.
    const first = findVma(proc.vmas, start);
    if (first !== undefined && first.end >= end) return;
    const holes = gaps(proc.vmas, start, end);
    if (holes.length === 0) return;
    const real = this.maps(pid);
    if (real === undefined) return;
    for (const [s, e] of holes) for (const piece of realPieces(real, s, e)) this.mirrorPiece(pid, piece);
  }

  /**
   * The model file object behind fd `fd` of live process `pid`, for
   * IOMMU_IOAS_MAP_FILE (`IoctlEnv.fileObject`): the model file already
   * standing for the real object when a shared mapping of it was mirrored,
   * else one created now (`mm.file.create`, the object's size rounded up to
   * 4 KiB). The process is `mm.spawn`ed first (MAP_FILE charges it), and
   * the mappings it has of the object are mirrored, so the program's stores
   * reach the model before a device reads them and device writes reach the
   * program (see the module comment).
   * @returns the file id; `undefined` when the fd is not open (EBADF); EINVAL
   * when it is not a memfd/shmem file (Linux memfd_pin_folios()) or is
   * empty (a model file has at least one page; Linux would fail only when
   * pinning); ENOMEM when the model refuses the file.
   */
  fileObject(pid: number, fd: number): number | Errno | undefined {
    const file = this.memories.has(pid) ? this.fdFile(pid, fd) : undefined;
    if (file === undefined) return undefined;
    if (!file.shmem) return errno("EINVAL", `fd ${fd} is not a memfd or shmem file`);
    if (file.size === 0) return errno("EINVAL", `fd ${fd} is empty`);
    if (this.ensureProcess(pid) === undefined) return errno("ESRCH", `process ${pid} cannot be mirrored`);
    const length = Math.ceil(file.size / PAGE_SIZE) * PAGE_SIZE;
    const known = this.objects.get(file.key);
    const mm = this.log.peek().mm;
    // A file truncated below the model's size lost those pages (shmem_truncate_range()): it is a
    // new model file from now on. A grown one keeps its first size (see the module comment).
    if (known !== undefined && length >= Number(mm.objects.get(known)?.length ?? 0)) {
      this.mirrorObjectMappings(pid, file.key);
      return known;
    }
    let id = FIRST_OBJECT_ID + this.objects.size;
    while (mm.objects.has(id)) id++;
    const r = this.log.dispatch({ type: "mm.file.create", data: { file: id, length: BigInt(length) } });
    if (isErrno(r)) return r;
    this.objects.set(file.key, id);
    this.mirrorObjectMappings(pid, file.key);
    return id;
  }

  /** Mirror every mapping process `pid` has of real object `key` (its bytes then sync both ways). */
  private mirrorObjectMappings(pid: number, key: string): void {
    for (const v of this.maps(pid) ?? []) {
      if (v.key === key) this.mirror(pid, BigInt(v.start), BigInt(v.end - v.start));
    }
  }

  /** The model's process for `pid`, `mm.spawn`ed with its real credentials the first time. */
  private ensureProcess(pid: number): { vmas: readonly Vma[] } | undefined {
    const proc = this.log.peek().mm.processes.get(pid);
    if (proc !== undefined) return proc;
    const cred = this.credentials(pid);
    if (cred === undefined) return undefined;
    const r = this.log.dispatch({ type: "mm.spawn", data: { pid, ...cred } });
    if (isErrno(r)) return undefined;
    this.mirrored.add(pid);
    return this.log.peek().mm.processes.get(pid);
  }

  /** One `mm.mmap` for a piece of a real mapping (private, or shared with its object). */
  private mirrorPiece(pid: number, piece: Piece): void {
    const base = {
      pid,
      addr: BigInt(piece.start),
      length: BigInt(piece.end - piece.start),
      prot: piece.prot,
    };
    const object = piece.key === undefined ? undefined : this.objectFor(pid, piece);
    if (object === undefined) {
      this.log.dispatch({ type: "mm.mmap", data: { ...base, shared: false } });
      return;
    }
    const r = this.log.dispatch({
      type: "mm.mmap",
      data: { ...base, shared: true, file: object, offset: BigInt(piece.offset) },
    });
    if (isErrno(r)) return;
    const list = this.sharedMappings.get(pid) ?? [];
    list.push({ start: piece.start, end: piece.end, object, offset: piece.offset });
    this.sharedMappings.set(pid, list);
  }

  /** The model file standing for the real object behind a shared piece, created (`mm.file.create`) on first sight. */
  private objectFor(pid: number, piece: Piece): number | undefined {
    const known = this.objects.get(piece.key!);
    if (known !== undefined) return known;
    const mm = this.log.peek().mm;
    let id = FIRST_OBJECT_ID + this.objects.size;
    while (mm.objects.has(id)) id++;
    // The object's size (shmem of a MAP_SHARED|MAP_ANONYMOUS mapping stats as 0: its mapping's extent counts).
    const size = this.objectSize(pid, piece.vmaStart, piece.vmaEnd) ?? 0;
    const length = Math.ceil(Math.max(size, piece.extent) / PAGE_SIZE) * PAGE_SIZE;
    const r = this.log.dispatch({ type: "mm.file.create", data: { file: id, length: BigInt(length) } });
    if (isErrno(r)) return undefined;
    this.objects.set(piece.key!, id);
    return id;
  }

  /**
   * Bring the model's copy of every live mirrored process up to date with
   * the process's own bytes: for each page of a mirrored writable mapping
   * whose bytes differ, one `mm.write` of the differing span (faulting the
   * page in if the model never had it). Cost: one /proc/<pid>/mem read and
   * one compare per mirrored page.
   */
  sync(): void {
    for (const pid of this.mirrored) {
      const proc = this.log.peek().mm.processes.get(pid);
      if (proc === undefined) continue;
      for (const vma of proc.vmas) if ((vma.prot & PROT_WRITE) !== 0) this.syncPages(pid, vma.start, vma.end);
    }
  }

  /**
   * Sync only the user pages behind IOVAs [iova, iova + length) in any IOAS
   * (what an access read of that range, IOMMU_TEST_OP_ACCESS_RW, reads):
   * the areas' iopt_pages name the process and user VA. Pages of a process
   * that has exited are read from a live process sharing their object (a
   * parent whose forked child mapped shared memory). An IOVA range present
   * in several IOASes syncs each — more than needed, never less.
   */
  syncIova(iova: bigint, length: bigint): void {
    if (this.mirrored.size === 0 && this.sharedMappings.size === 0) return;
    if (length <= 0n) return;
    const root = this.log.peek();
    const ranges: { pid: number; start: number; end: number }[] = [];
    const fileRanges: { object: number; from: number; to: number }[] = [];
    for (const ioas of root.iopt.ioas.values()) {
      const slices = getPages(ioas, iova, length);
      if (isErrno(slices)) continue;
      for (const slice of slices) {
        const pages = root.iopt.pages.get(slice.pages);
        if (pages === undefined) continue;
        // `uptr` is a user VA, or for MAP_FILE pages the byte offset in the file.
        const at = Number(pages.uptr + slice.startByte);
        const start = at - (at % PAGE_SIZE);
        const end = Math.ceil((at + Number(slice.length)) / PAGE_SIZE) * PAGE_SIZE;
        if (pages.file !== undefined) fileRanges.push({ object: pages.file, from: start, to: end });
        else ranges.push({ pid: pages.pid, start, end });
      }
    }
    // MAP_FILE pages: their bytes are what the live processes mapping the memfd stored.
    for (const r of fileRanges) {
      if (![...this.objects.values()].includes(r.object)) continue;
      for (const [pid, va] of this.liveMappings(r.object, r.from, r.to))
        this.syncPages(pid, va, va + (r.to - r.from));
    }
    for (const r of ranges) {
      const end = Math.ceil(r.end / PAGE_SIZE) * PAGE_SIZE;
      if (this.mirrored.has(r.pid)) this.syncPages(r.pid, r.start, end);
      else this.syncShared(r.pid, r.start, end);
    }
  }

  /** Sync [start, end) of live mirrored `pid` (page aligned), in chunks. */
  private syncPages(pid: number, start: number, end: number): void {
    const memory = this.memories.get(pid);
    if (memory === undefined) return;
    for (let va = start; va < end; va += SYNC_CHUNK)
      this.syncChunk(pid, memory, va, Math.min(SYNC_CHUNK, end - va));
  }

  /**
   * [start, end) of a process that is gone: the parts it mapped shared are
   * synced from a live process mapping the same object pages (mirrored
   * into the model on the spot if it was not yet).
   */
  private syncShared(deadPid: number, start: number, end: number): void {
    for (const m of this.sharedMappings.get(deadPid) ?? []) {
      const s = Math.max(start, m.start);
      const e = Math.min(end, m.end);
      if (s >= e) continue;
      const from = m.offset + (s - m.start);
      const to = m.offset + (e - m.start);
      for (const [pid, va] of this.liveMappings(m.object, from, to))
        this.syncPages(pid, va, va + (to - from));
    }
  }

  /**
   * Live tracked processes mapping bytes [from, to) of model object
   * `object`, with the VA where that range starts in each; a process whose
   * real maps show the object but whose mirror does not yet is mirrored.
   */
  private liveMappings(object: number, from: number, to: number): [number, number][] {
    const key = [...this.objects].find(([, id]) => id === object)?.[0];
    const out: [number, number][] = [];
    for (const pid of this.memories.keys()) {
      for (const v of this.maps(pid) ?? []) {
        if (v.key !== key || v.offset > from || v.offset + (v.end - v.start) < to) continue;
        const va = v.start + (from - v.offset);
        this.mirror(pid, BigInt(va), BigInt(to - from));
        out.push([pid, va]);
        break;
      }
    }
    return out;
  }

  /** Compare [va, va + length) of `pid` with the model; one `mm.write` per page whose bytes differ. */
  private syncChunk(pid: number, memory: UserMemory, va: number, length: number): void {
    const real = memory.read(BigInt(va), length);
    if (isErrno(real)) return;
    const model = readUser(this.log.peek().mm, pid, BigInt(va), length);
    if (isErrno(model)) return;
    for (let off = 0; off < length; off += PAGE_SIZE) {
      let lo = off;
      const end = off + PAGE_SIZE;
      while (lo < end && real[lo] === model[lo]) lo++;
      if (lo === end) continue;
      let hi = end;
      while (real[hi - 1] === model[hi - 1]) hi--;
      this.log.dispatch({ type: "mm.write", data: { pid, va: BigInt(va + lo), bytes: real.slice(lo, hi) } });
    }
  }

  /** Where mirrored frame `pfn` is mapped in a live process, if anywhere (tests, diagnostics). */
  ownerOf(pfn: number): { pid: number; va: bigint } | undefined {
    const t = this.target(pfn);
    return t === undefined ? undefined : { pid: t.pid, va: BigInt(t.va) };
  }

  /** Follow a committed command: keep the frame index, write device stores through. */
  private committed(command: LogRecord, events: readonly LogRecord[]): void {
    if (this.mirrored.size === 0 && this.objects.size === 0) return;
    // The mirror's own sync writes come from the process: nothing to write back.
    const fromSync = command.type === "mm.write" && this.mirrored.has((command.data as { pid: number }).pid);
    for (const e of events) {
      switch (e.type) {
        case "mm.faulted":
          this.faulted(e.data as { pid: number; runs: FaultRunData[] });
          break;
        case "mm.unmapped": {
          const d = e.data as { pid: number; addr: bigint; length: bigint };
          const first = Number(d.addr) / PAGE_SIZE;
          for (let v = first; v < first + Number(d.length) / PAGE_SIZE; v++) this.forget(d.pid, v);
          break;
        }
        case "mm.exited": {
          const pid = (e.data as { pid: number }).pid;
          for (const vpn of [...(this.privateFrames.get(pid)?.keys() ?? [])]) this.forget(pid, vpn);
          break;
        }
        case "mm.phys.written":
          if (!fromSync) this.writeThrough(e.data as { pa: bigint; bytes: Uint8Array });
          break;
      }
    }
  }

  /** Record the frames an `mm.faulted` gave: private pages of mirrored processes, pages of mirrored objects. */
  private faulted(d: { pid: number; runs: FaultRunData[] }): void {
    const mine = this.mirrored.has(d.pid);
    const objects = new Set(this.objects.values());
    const proc = this.log.peek().mm.processes.get(d.pid);
    for (const run of d.runs) {
      const va = Number(run.va);
      if (run.object !== undefined) {
        // MAP_FILE faults: `va` is the byte offset in the object.
        if (objects.has(run.object)) this.ownObject(run.object, va / PAGE_SIZE, run.pfn, run.count);
      } else if (run.shared) {
        const vma = proc === undefined ? undefined : findVma(proc.vmas, va);
        if (vma?.object !== undefined && objects.has(vma.object)) {
          this.ownObject(vma.object, (vma.pgoff + va - vma.start) / PAGE_SIZE, run.pfn, run.count);
        }
      } else if (mine) {
        for (let k = 0; k < run.count; k++) {
          this.forget(d.pid, va / PAGE_SIZE + k);
          this.remember(d.pid, va / PAGE_SIZE + k, run.pfn + k);
        }
      }
    }
  }

  private ownObject(object: number, index: number, pfn: number, count: number): void {
    for (let k = 0; k < count; k++) this.owners.set(pfn + k, { object, index: index + k });
  }

  private remember(pid: number, vpn: number, pfn: number): void {
    let m = this.privateFrames.get(pid);
    if (m === undefined) {
      m = new Map();
      this.privateFrames.set(pid, m);
    }
    m.set(vpn, pfn);
    this.owners.set(pfn, { pid, vpn });
  }

  private forget(pid: number, vpn: number): void {
    const m = this.privateFrames.get(pid);
    const pfn = m?.get(vpn);
    if (pfn === undefined) return;
    m!.delete(vpn);
    if (m!.size === 0) this.privateFrames.delete(pid);
    this.owners.delete(pfn);
  }

  /** The live process and VA holding frame `pfn`: its private owner, or a process mapping its object page. */
  private target(pfn: number): { pid: number; va: number; memory: UserMemory } | undefined {
    const o = this.owners.get(pfn);
    if (o === undefined) return undefined;
    if ("pid" in o) {
      const memory = this.memories.get(o.pid);
      return memory === undefined ? undefined : { pid: o.pid, va: o.vpn * PAGE_SIZE, memory };
    }
    const offset = o.index * PAGE_SIZE;
    for (const [pid, memory] of this.memories) {
      for (const m of this.sharedMappings.get(pid) ?? []) {
        if (m.object === o.object && offset >= m.offset && offset < m.offset + (m.end - m.start)) {
          return { pid, va: m.start + (offset - m.offset), memory };
        }
      }
    }
    // A live process may share the object without having mapped it for DMA itself.
    const [live] = this.liveMappings(o.object, offset, offset + PAGE_SIZE);
    return live === undefined
      ? undefined
      : { pid: live[0], va: live[1], memory: this.memories.get(live[0])! };
  }

  /** Copy a RAM store into the live processes holding the frames it touches. */
  private writeThrough(d: { pa: bigint; bytes: Uint8Array }): void {
    let pa = Number(d.pa);
    let done = 0;
    while (done < d.bytes.length) {
      const off = pa % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, d.bytes.length - done);
      const t = this.target(Math.floor(pa / PAGE_SIZE));
      // A process that just exited cannot be written: the store stays in the model only.
      t?.memory.write(BigInt(t.va + off), d.bytes.subarray(done, done + n));
      done += n;
      pa += n;
    }
  }
}
