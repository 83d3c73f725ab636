/**
 * The /dev/iommu driver: each open is an iommufd context
 * (`iommufd.open` → `iommufd.opened {ctx}`), each ioctl goes to
 * `iommufdIoctl` with the argument struct copied in and out of the
 * caller's real memory, and the last close is `iommufd.close`
 * (Linux drivers/iommu/iommufd/main.c: iommufd_fops_open,
 * iommufd_fops_ioctl, iommufd_fops_release).
 */
import type { LogRecord, Message } from "@iommu-sim/eventlog";
import { type IoctlEnv, type IommufdRoot, iommufdIoctl } from "@iommu-sim/iommufd";
import {
  _IOC_NR,
  type Errno,
  errno,
  IOMMU_IOCTL,
  IOMMU_TEST_OP,
  IOMMUFD_CMD_BASE,
  type IommufdIoctlOp,
  iommufdIoctlOp,
  isErrno,
} from "@iommu-sim/uapi";
import { vfioCompatIoctlUser } from "@iommu-sim/vfio-compat";
import type { Caller, DeviceDriver, OpenFile } from "../daemon/driver";
import type { ExternalMemory, ExternalRoot } from "../memory/external";
import { IommufdAnonFile, type IommufdFileOps } from "./iommufd-file";

const EMPTY = new Uint8Array(0);
/** The last command number of iommufd's table (IOMMU_TEST_CMD). */
const IOMMUFD_LAST_NR = _IOC_NR(IOMMU_IOCTL.IOMMU_TEST_CMD);
/** check_zeroed_user reads the tail in chunks of this many bytes. */
const ZERO_CHUNK = 64 * 1024;

/**
 * What a driver needs of the model's log: commit a command, and read the
 * live state (an `EventLog`'s `dispatch` and `peek`).
 */
export interface ModelPort<R> {
  dispatch(command: Message): readonly LogRecord[] | Errno;
  peek(): R;
}

/**
 * Linux lib/usercopy.c check_zeroed_user(): whether `length` bytes at `va`
 * are all zero. The first non-zero chunk answers E2BIG before a later
 * unreadable one answers EFAULT, as the kernel walks the range in order.
 */
function checkZeroed(caller: Caller, va: bigint, length: number): Errno | undefined {
  for (let done = 0; done < length; done += ZERO_CHUNK) {
    const chunk = caller.memory.read(va + BigInt(done), Math.min(ZERO_CHUNK, length - done));
    if (isErrno(chunk)) return errno("EFAULT", chunk.reason);
    if (chunk.some((b) => b !== 0)) return errno("E2BIG", "non-zero bytes beyond the kernel's struct");
  }
  return undefined;
}

/**
 * Copy in the argument of iommufd op `op` at user VA `arg` the way
 * iommufd_fops_ioctl() + copy_struct_from_user() read it: the `__u32 size`
 * (EFAULT if unreadable), then — for a size within [minSize, kernel size]
 * — `size` bytes; for a larger size, the tail must be zero (E2BIG/EFAULT)
 * and the kernel's struct is read with `size` rewritten to the kernel size
 * (the original is restored on the way out). A size below the minimum
 * yields just the 4 size bytes, for iommufdIoctl to answer EINVAL.
 */
function copyIn(caller: Caller, op: IommufdIoctlOp, arg: bigint): { buf: Uint8Array; usize: number } | Errno {
  // One read of the kernel's struct usually covers both the size and the
  // struct; reading more than `size` is unobservable, and when the struct
  // does not fit the mapping the exact reads below decide the errno.
  const whole = caller.memory.read(arg, op.size);
  const head = isErrno(whole) ? caller.memory.read(arg, 4) : whole;
  if (isErrno(head)) return errno("EFAULT", head.reason);
  const usize = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true);
  if (usize < op.minSize) return { buf: head.subarray(0, 4), usize };
  if (usize <= op.size) {
    if (!isErrno(whole)) return { buf: whole.subarray(0, usize), usize };
    const buf = caller.memory.read(arg, usize);
    return isErrno(buf) ? errno("EFAULT", buf.reason) : { buf, usize };
  }
  const tail = checkZeroed(caller, arg + BigInt(op.size), usize - op.size);
  if (tail !== undefined) return tail;
  const buf = isErrno(whole) ? caller.memory.read(arg, op.size) : whole;
  if (isErrno(buf)) return errno("EFAULT", buf.reason);
  new DataView(buf.buffer, buf.byteOffset, 4).setUint32(0, op.size, true);
  return { buf, usize };
}

/** Offset of the union in struct iommu_test_cmd (`__u32 size, op, id, __reserved`). */
const TEST_UNION = 16;

/**
 * What an IOMMU_TEST_CMD needs of the caller's real memory before it runs:
 * MD_CHECK_MAP (`{iova, length, uptr}`), MD_CHECK_REFS (`{length, uptr,
 * refs}`) and ACCESS_PAGES with a `uptr` look at the caller's pages behind
 * `uptr`, which must be mirrored into the model; ACCESS_RW reads or writes RAM behind IOVAs, so the pages behind
 * them are synced first (a partial-page write must not bring back stale bytes).
 */
function prepareTestCmd<R extends ExternalRoot>(
  external: ExternalMemory<R>,
  pid: number,
  buf: Uint8Array,
): void {
  if (buf.length < TEST_UNION + 32) return;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  switch (dv.getUint32(4, true)) {
    case IOMMU_TEST_OP.IOMMU_TEST_OP_MD_CHECK_MAP:
      external.mirror(pid, dv.getBigUint64(TEST_UNION + 16, true), dv.getBigUint64(TEST_UNION + 8, true));
      break;
    case IOMMU_TEST_OP.IOMMU_TEST_OP_MD_CHECK_REFS:
      external.mirror(pid, dv.getBigUint64(TEST_UNION + 8, true), dv.getBigUint64(TEST_UNION, true));
      break;
    case IOMMU_TEST_OP.IOMMU_TEST_OP_ACCESS_PAGES: {
      // access_pages {flags, out_access_pages_id, iova, length, uptr}: with uptr ≠ 0 the pinned
      // pages are compared with the caller's at uptr − (iova's offset in its page).
      const uptr = dv.getBigUint64(TEST_UNION + 24, true);
      const offset = dv.getBigUint64(TEST_UNION + 8, true) % 4096n;
      if (uptr !== 0n && uptr >= offset)
        external.mirror(pid, uptr - offset, dv.getBigUint64(TEST_UNION + 16, true) + offset);
      break;
    }
    case IOMMU_TEST_OP.IOMMU_TEST_OP_ACCESS_RW:
      // access_rw {iova, length, uptr, flags}: the pages behind the IOVAs are read or written.
      external.syncIova(dv.getBigUint64(TEST_UNION, true), dv.getBigUint64(TEST_UNION + 8, true));
      break;
  }
}

/**
 * IOMMU_IOAS_MAP pins the memory of the process making the call (Linux
 * iopt_alloc_user_pages(): `pages->source_mm = current->mm`), which is not
 * the context's opener when a forked child maps through an inherited fd
 * (the selftest's fork_gone / fork_present): `ioas.map` (and `ioas.map_file`,
 * iopt_alloc_file_pages() charging `current`) names the caller. iommufd's own
 * handlers take the caller from `IoctlEnv.pid`; this also covers the VFIO
 * container's MAP_DMA, which vfio-compat dispatches itself.
 */
function asCaller(command: Message, pid: number): Message {
  if (command.type !== "ioas.map" && command.type !== "ioas.map_file") return command;
  const data = command.data as { pid: number };
  return data.pid === pid ? command : { ...command, data: { ...data, pid } };
}

/** Whether two byte strings are equal. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One open of /dev/iommu (or /dev/vfio/vfio): an iommufd context `ctx`. */
export class IommufdContextFile implements OpenFile {
  constructor(
    private readonly log: ModelPort<IommufdRoot>,
    readonly ctx: number,
    private readonly external: ExternalMemory<IommufdRoot & ExternalRoot> | undefined,
    private readonly fileOps: IommufdFileOps | undefined,
  ) {}

  /** The IoctlEnv of each caller (a session's Caller is stable): made once, not per ioctl. */
  private readonly envs = new WeakMap<Caller, IoctlEnv<IommufdRoot>>();

  /** iommufd_fops_ioctl on `arg`, a pointer to the command's struct. */
  ioctl(caller: Caller, request: number, arg: bigint): number {
    this.external?.track(caller.pid, caller.memory);
    this.external?.reap(caller.pid);
    let env = this.envs.get(caller);
    if (env === undefined) {
      env = this.makeEnv(caller);
      this.envs.set(caller, env);
    }
    const op = iommufdIoctlOp(request);
    if (op === undefined) {
      // Outside the iommufd table: the VFIO container ioctls (iommufd_vfio_ioctl), which take an
      // integer or a pointer in the raw register value; anything else answers ENOTTY there.
      const nr = _IOC_NR(request);
      if (nr < IOMMUFD_CMD_BASE || nr > IOMMUFD_LAST_NR)
        return vfioCompatIoctlUser(env, this.ctx, request, arg);
      return iommufdIoctl(env, this.ctx, request, EMPTY);
    }
    const input = copyIn(caller, op, arg);
    if (isErrno(input)) return input.ret;
    if (this.external !== undefined && request === IOMMU_IOCTL.IOMMU_TEST_CMD) {
      // MD_CHECK_MAP/_REFS read the caller's memory (current->mm), as the handler does with env.pid.
      prepareTestCmd(this.external, caller.pid, input.buf);
    }
    const before = input.buf.slice();
    const ret = iommufdIoctl(env, this.ctx, request, input.buf);
    // Only a command that responded changes the buffer, and then it is
    // copied back (copy_to_user); bytes equal to the user's need no copy.
    if (!sameBytes(before, input.buf)) {
      if (input.usize > op.size)
        new DataView(input.buf.buffer, input.buf.byteOffset, 4).setUint32(0, input.usize, true);
      const e = caller.memory.write(arg, input.buf);
      if (e !== undefined) return -14; // EFAULT, as iommufd_ucmd_respond()
    }
    return ret;
  }

  /** What iommufdIoctl needs of `caller`: its pid and memory, and its fds. */
  private makeEnv(caller: Caller): IoctlEnv<IommufdRoot> {
    const env: IoctlEnv<IommufdRoot> = {
      dispatch: (c) => this.log.dispatch(asCaller(c, caller.pid)),
      peek: () => this.log.peek(),
      user: caller.memory,
      pid: caller.pid,
    };
    const external = this.external;
    // IOMMU_IOAS_MAP_FILE's fd is one of the program's own fds (a memfd): the mirror finds its object.
    if (external !== undefined) env.fileObject = (fd) => external.fileObject(caller.pid, fd);
    const ops = this.fileOps;
    const install = caller.installFile;
    if (ops !== undefined && install !== undefined) {
      // Fault-queue and access fds become real fds of the program (daemon/session.ts installs them).
      env.installFd = (f) => install(new IommufdAnonFile(this.log, ops, f), `anon_inode:[iommufd-${f.kind}]`);
      env.fileOf = (fd) => {
        const o = caller.fileAt?.(fd);
        return o instanceof IommufdAnonFile ? o.file : undefined;
      };
    }
    return env;
  }

  /** iommufd_fops_release: `iommufd.close` destroys every object, then the context. */
  release(): void {
    // iommufd_fops_release cannot fail; a context that is already gone has nothing to release.
    this.log.dispatch({ type: "iommufd.close", data: { ctx: this.ctx } });
  }
}

/**
 * The driver of /dev/iommu — or, with `vfio`, of /dev/vfio/vfio, which
 * iommufd also provides (CONFIG_IOMMUFD_VFIO_CONTAINER: the same fops, with
 * per-mm accounting) — over `log` (whose root has the iommufd slice).
 * open: `iommufd.open {pid, vfio}`; its errno (ENOMEM under fault
 * injection) fails the open. With `external` (the model's mirror of real
 * processes), `log` should be `external.port()`: IOAS_MAP then pins the
 * program's own pages (see memory/external.ts). With `fileOps` (iommufd's
 * file operations), ioctls that create fds (fault queues, accesses) give
 * the program real fds served by them (iommufd-file.ts).
 */
export function iommufdDriver(
  log: ModelPort<IommufdRoot>,
  vfio = false,
  external?: ExternalMemory<IommufdRoot & ExternalRoot>,
  fileOps?: IommufdFileOps,
): DeviceDriver {
  return {
    name: vfio ? "vfio-container" : "iommufd",
    paths: [vfio ? "/dev/vfio/vfio" : "/dev/iommu"],
    open(_path: string, _flags: number, caller: Caller): OpenFile | Errno {
      const r = log.dispatch({ type: "iommufd.open", data: { pid: caller.pid, vfio } });
      if (isErrno(r)) return r;
      const opened = r.find((e) => e.type === "iommufd.opened");
      if (opened === undefined) return errno("EIO", "iommufd.open committed no iommufd.opened");
      return new IommufdContextFile(log, (opened.data as { ctx: number }).ctx, external, fileOps);
    },
  };
}
