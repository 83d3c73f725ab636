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
  iommufdIoctlOp,
  isErrno,
} from "@iommu-sim/uapi";
import { vfioCompatIoctlUser } from "@iommu-sim/vfio-compat";
import type { Caller, DeviceDriver, OpenFile } from "../daemon/driver";
import type { ExternalMemory, ExternalRoot } from "../memory/external";
import { IommufdAnonFile, type IommufdFileOps } from "./iommufd-file";
import { UCMD_SIZE, UcmdBuffer } from "./ucmd";

const EMPTY = new Uint8Array(0);
/** The last command number of iommufd's table (IOMMU_TEST_CMD). */
const IOMMUFD_LAST_NR = _IOC_NR(IOMMU_IOCTL.IOMMU_TEST_CMD);

/**
 * What a driver needs of the model's log: commit a command, and read the
 * live state (an `EventLog`'s `dispatch` and `peek`).
 */
export interface ModelPort<R> {
  dispatch(command: Message): readonly LogRecord[] | Errno;
  peek(): R;
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

  /** The kernel-side argument buffer of this file's ioctls (Linux's ucmd_buffer), reused call after call. */
  private readonly ucmd = new UcmdBuffer();

  /**
   * iommufd_fops_ioctl on `arg`, a pointer to the command's struct: copied
   * into the file's ucmd buffer (EFAULT, E2BIG as copy_struct_from_user),
   * run by iommufdIoctl, and copied back when the command answered.
   * @returns 0 (or the command's positive value), or −errno.
   */
  ioctl(caller: Caller, request: number, arg: bigint): number {
    this.external?.track(caller.pid, caller.memory);
    this.external?.reap(caller.pid);
    const env = this.envOf(caller);
    const op = iommufdIoctlOp(request);
    if (op === undefined) {
      // Outside the iommufd table: the VFIO container ioctls (iommufd_vfio_ioctl), which take an
      // integer or a pointer in the raw register value; anything else answers ENOTTY there.
      const nr = _IOC_NR(request);
      if (nr < IOMMUFD_CMD_BASE || nr > IOMMUFD_LAST_NR)
        return vfioCompatIoctlUser(env, this.ctx, request, arg);
      return iommufdIoctl(env, this.ctx, request, EMPTY);
    }
    // A call made while another is in flight on this file (a subscriber's) gets a buffer of its own.
    const ucmd =
      this.ucmd.busy || op.size > UCMD_SIZE ? new UcmdBuffer(Math.max(op.size, UCMD_SIZE)) : this.ucmd;
    const input = ucmd.copyIn(caller.memory, op, arg);
    if (input !== undefined) return input.ret;
    let ret: number;
    try {
      if (this.external !== undefined && request === IOMMU_IOCTL.IOMMU_TEST_CMD) {
        // MD_CHECK_MAP/_REFS read the caller's memory (current->mm), as the handler does with env.pid.
        prepareTestCmd(this.external, caller.pid, ucmd.arg);
      }
      ret = iommufdIoctl(env, this.ctx, request, ucmd.arg);
    } catch (e) {
      ucmd.release();
      throw e;
    }
    // Only a command that responded changes the buffer, and then it is copied back (copy_to_user).
    const out = ucmd.copyOut(caller.memory, op, arg);
    return out === undefined ? ret : out.ret;
  }

  /** The IoctlEnv of `caller`, made on its first ioctl. */
  private envOf(caller: Caller): IoctlEnv<IommufdRoot> {
    let env = this.envs.get(caller);
    if (env === undefined) {
      env = this.makeEnv(caller);
      this.envs.set(caller, env);
    }
    return env;
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
