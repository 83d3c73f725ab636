/** A /dev/iommu test harness: a log over the iommufd subsystem and fds on it. */
import type { EventLog, Message } from "@iommu-sim/eventlog";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import {
  createSystemLog,
  type IoctlEnv,
  type IommufdRoot,
  iommufdIoctl,
  type SystemState,
  type UserMemory,
} from "../src/index";

export type Root = SystemState;

/** No user memory: every pointer faults. */
export const NO_MEMORY: UserMemory = { read: () => errno("EFAULT"), write: () => errno("EFAULT") };

export function newSystem(): EventLog<Message, Message, Root> {
  return createSystemLog();
}

/** An open file of /dev/iommu. */
export class IommuFd {
  constructor(
    readonly log: EventLog<Message, Message, Root>,
    readonly ctx: number,
  ) {}

  static open(log: EventLog<Message, Message, Root>, pid = 100, vfio = false): IommuFd {
    const r = log.dispatch({ type: "iommufd.open", data: { pid, vfio } });
    if (isErrno(r)) throw new Error(`open failed: ${r}`);
    return new IommuFd(log, (r[0]!.data as { ctx: number }).ctx);
  }

  /** The fd's user memory (NO_MEMORY unless a test gives it a process). */
  user: UserMemory = NO_MEMORY;

  /** The fd table's memfds (IOMMU_IOAS_MAP_FILE): fd → model file object (or the errno of a non-memfd). */
  files: Map<number, number | Errno> | undefined;
  /** The calling process when it is not the opener (a forked child's call); undefined: the opener. */
  callerPid: number | undefined;

  env(): IoctlEnv<IommufdRoot> {
    const files = this.files;
    return {
      dispatch: (c) => this.log.dispatch(c),
      peek: () => this.log.peek() as IommufdRoot,
      user: this.user,
      ...(files === undefined ? {} : { fileObject: (fd: number) => files.get(fd) }),
      ...(this.callerPid === undefined ? {} : { pid: this.callerPid }),
    };
  }

  /** ioctl(fd, request, arg): 0 or −errno; outputs land in `arg`. */
  ioctl(request: number, arg: Uint8Array): number {
    return iommufdIoctl(this.env(), this.ctx, request, arg);
  }

  close(): readonly unknown[] | Errno {
    return this.log.dispatch({ type: "iommufd.close", data: { ctx: this.ctx } });
  }
}

/** Little-endian struct bytes from (offset, size, value) triples; `total` bytes long. */
export function bytes(total: number, fields: [number, 1 | 2 | 4 | 8, number | bigint][]): Uint8Array {
  const b = new Uint8Array(total);
  const v = new DataView(b.buffer);
  for (const [off, size, val] of fields) {
    if (size === 8) v.setBigUint64(off, BigInt(val), true);
    else if (size === 4) v.setUint32(off, Number(val), true);
    else if (size === 2) v.setUint16(off, Number(val), true);
    else v.setUint8(off, Number(val));
  }
  return b;
}
