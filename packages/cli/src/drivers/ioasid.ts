/**
 * The /dev/ioasid driver (the 2021 RFC "ioasid: Add /dev/ioasid for
 * userspace", drivers/iommu/ioasid_user.c): each open is `ioasid.open
 * {pid}` (EBUSY when the process's mm already has one), each ioctl goes to
 * `@iommu-sim/ioasid`'s `ioasidIoctl` with its argument copied in and out
 * of the caller's memory, and the last close is `ioasid.close` for every
 * process that held the file.
 */
import type { LogRecord, Message } from "@iommu-sim/eventlog";
import { type IoasidState, ioasidIoctl } from "@iommu-sim/ioasid";
import { type Errno, errno, IOASID_IOCTL, ioasidAllocRequest, ioasidInfo, isErrno } from "@iommu-sim/uapi";
import type { Caller, DeviceDriver, OpenFile } from "../daemon/driver";

/** What the driver needs of the model: commit commands, read the `ioasid` slice. */
export interface IoasidPort {
  dispatch(command: Message): readonly LogRecord[] | Errno;
  peek(): { readonly ioasid: IoasidState };
}

/**
 * Bytes the kernel reads at the ioctl's pointer: `struct ioasid_info`
 * (12), `struct ioasid_alloc_request` (16), an `int` (4); GET_API_VERSION
 * reads nothing.
 */
function argBytes(request: number): number {
  switch (request >>> 0) {
    case IOASID_IOCTL.IOASID_GET_INFO:
      return ioasidInfo.size;
    case IOASID_IOCTL.IOASID_REQUEST_ALLOC:
      return ioasidAllocRequest.size;
    case IOASID_IOCTL.IOASID_REQUEST_FREE:
      return 4;
    default:
      return 0;
  }
}

/** One open of /dev/ioasid: the model's file `fd`, opened by `opener`. */
class IoasidFile implements OpenFile {
  /** What ioasidIoctl commits through and reads: the log, made once per file rather than per call. */
  private readonly port: Parameters<typeof ioasidIoctl>[0];

  constructor(
    private readonly log: IoasidPort,
    private readonly fd: number,
    private readonly opener: number,
  ) {
    this.port = {
      get state() {
        return log.peek();
      },
      dispatch: (c: Message) => log.dispatch(c),
    };
  }

  /**
   * ioasid_fops_unl_ioctl. A process that reaches the file without having
   * opened it (a forked child) holds it by transfer: `ioasid.fd.share`
   * first, so the model answers its requests EPERM as the RFC does.
   */
  ioctl(caller: Caller, request: number, arg: bigint): number {
    const file = this.log.peek().ioasid.files[this.fd];
    if (file !== undefined && !file.holders.includes(caller.pid)) {
      const r = this.log.dispatch({
        type: "ioasid.fd.share",
        data: { fd: this.fd, fromPid: this.opener, toPid: caller.pid },
      });
      if (isErrno(r)) return r.ret;
    }
    const n = argBytes(request);
    const read = n === 0 ? new Uint8Array(0) : caller.memory.read(arg, n);
    // Unreadable: an empty buffer, which the copy-in answers EFAULT.
    const buf = isErrno(read) ? new Uint8Array(0) : read;
    const before = buf.slice();
    const ret = ioasidIoctl(this.port, caller.pid, this.fd, request, buf);
    if (buf.some((b, i) => b !== before[i]) && caller.memory.write(arg, buf) !== undefined) return -14; // EFAULT
    return ret;
  }

  /** ioasid_fops_release: every holder closes (the last close frees the set's PASIDs). */
  release(): void {
    const holders = this.log.peek().ioasid.files[this.fd]?.holders ?? [];
    for (const pid of holders) this.log.dispatch({ type: "ioasid.close", data: { pid, fd: this.fd } });
  }
}

/** The driver of /dev/ioasid over `log` (whose root has the `ioasid` slice). */
export function ioasidDriver(log: IoasidPort): DeviceDriver {
  return {
    name: "ioasid",
    paths: ["/dev/ioasid"],
    open(_path: string, _flags: number, caller: Caller): OpenFile | Errno {
      const r = log.dispatch({ type: "ioasid.open", data: { pid: caller.pid } });
      if (isErrno(r)) return r;
      const opened = r.find((e) => e.type === "ioasid.opened");
      if (opened === undefined) return errno("EIO", "ioasid.open committed no ioasid.opened");
      return new IoasidFile(log, (opened.data as { fd: number }).fd, caller.pid);
    },
  };
}
