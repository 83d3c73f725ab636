/**
 * The fds an iommufd ioctl hands out (Linux anon-inode files): a fault
 * queue's fd (IOMMU_FAULT_QUEUE_ALLOC `out_fault_fd`, drivers/iommu/iommufd/
 * eventq.c iommufd_fault_fops) and a selftest access's fd
 * (IOMMU_TEST_OP_CREATE_ACCESS `out_access_fd`, selftest.c). The daemon
 * serves read/write/poll/close on them through `@iommu-sim/iommufd`'s file
 * operations (`IommufdFileOps`), with the caller's memory as the buffer.
 */
import type { LogRecord, Message } from "@iommu-sim/eventlog";
import type { IoctlEnv, IommufdFile, IommufdRoot, UserMemory } from "@iommu-sim/iommufd";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import type { Caller, OpenFile } from "../daemon/driver";

const ENOTTY = -25;
const EFAULT = -14;

/** iommufd's operations on its anon-inode files (packages/iommufd/src/files.ts). */
export interface IommufdFileOps {
  read(env: IoctlEnv<IommufdRoot>, file: IommufdFile, length: number): Uint8Array | Errno;
  write(env: IoctlEnv<IommufdRoot>, file: IommufdFile, bytes: Uint8Array): number | Errno;
  poll(env: IoctlEnv<IommufdRoot>, file: IommufdFile): number;
  release(env: IoctlEnv<IommufdRoot>, file: IommufdFile): void;
}

/** What the file needs of the model. */
interface Port {
  dispatch(command: Message): readonly LogRecord[] | Errno;
  peek(): IommufdRoot;
}

/** Memory for operations without a caller (poll, release): nothing is reachable. */
const NO_MEMORY: UserMemory = {
  read: () => errno("EFAULT", "no caller memory"),
  write: () => errno("EFAULT", "no caller memory"),
};

/** One fault-queue or access fd, as an open file of the daemon. */
export class IommufdAnonFile implements OpenFile {
  constructor(
    private readonly port: Port,
    private readonly ops: IommufdFileOps,
    /** The iommufd object behind the fd. */
    readonly file: IommufdFile,
  ) {}

  private env(user: UserMemory): IoctlEnv<IommufdRoot> {
    return { dispatch: (c) => this.port.dispatch(c), peek: () => this.port.peek(), user };
  }

  /** These files have no unlocked_ioctl: ENOTTY (vfs_ioctl). */
  ioctl(): number {
    return ENOTTY;
  }

  /** read(2): iommufd's answer copied to `buf` (EFAULT if it cannot be). */
  read(caller: Caller, buf: bigint, count: number): number {
    const r = this.ops.read(this.env(caller.memory), this.file, count);
    if (isErrno(r)) return r.ret;
    if (r.length > 0 && caller.memory.write(buf, r) !== undefined) return EFAULT;
    return r.length;
  }

  /** write(2): `count` bytes at `buf` handed to iommufd (EFAULT if unreadable). */
  write(caller: Caller, buf: bigint, count: number): number {
    const bytes = caller.memory.read(buf, count);
    if (isErrno(bytes)) return EFAULT;
    const r = this.ops.write(this.env(caller.memory), this.file, bytes);
    return isErrno(r) ? r.ret : r;
  }

  /** poll(2): the ready bits iommufd reports, among `events`. */
  poll(events: number): number {
    return this.ops.poll(this.env(NO_MEMORY), this.file) & (events | 0x18); // POLLERR | POLLHUP always
  }

  /** The last fd closed (f_op->release). */
  release(): void {
    this.ops.release(this.env(NO_MEMORY), this.file);
  }
}
