/**
 * Device drivers: what serves a device node of the model. A driver claims
 * paths (`/dev/iommu`) or path prefixes (`/dev/vfio/devices/`); opening a
 * claimed path gives an open file whose operations the daemon calls for
 * every ioctl/read/write/poll the program makes on any fd of that file
 * (Linux struct file_operations: open, release, unlocked_ioctl, read,
 * write, poll).
 */
import type { UserMemory } from "@iommu-sim/iommufd";
import { type Errno, errno } from "@iommu-sim/uapi";

/**
 * The device namespace the daemon serves: every open of a path in it is
 * answered by the model (ENOENT where no driver claims the path, as for a
 * missing device node); every other path goes to the real system. An entry
 * ending in "/" is a prefix.
 */
export const DEVICE_NAMESPACE: readonly string[] = ["/dev/iommu", "/dev/ioasid", "/dev/vfio/"];

/**
 * A caller's memory: `UserMemory`, optionally with a copy into a buffer the
 * driver owns (`readInto`), which spares the per-call array `read` returns
 * on the ioctl hot path (drivers/ucmd.ts). The daemon's ProcMemory has it.
 */
export interface CallerMemory extends UserMemory {
  /**
   * Copy `target.length` bytes from user VA `va` into `target`
   * (copy_from_user): the same bytes and errors as `read(va, target.length)`.
   * @returns undefined, or EFAULT where unmapped (`target` is then partly
   * written); ENOMEM for a transfer too large to serve.
   */
  readInto?(va: bigint, target: Uint8Array): Errno | undefined;
}

/** The process making a call, as a driver sees it. */
export interface Caller {
  /** Its pid (tgid). */
  readonly pid: number;
  /** Its memory: what user pointers designate. */
  readonly memory: CallerMemory;
  /**
   * Give the process a new fd on `file` (a file an ioctl creates: a fault
   * queue's or an access's anon-inode fd; Linux get_unused_fd_flags() +
   * fd_install()). @returns the fd number — the lowest free one, as Linux
   * picks — or −errno (EMFILE). Only during an ioctl; absent outside the daemon.
   */
  installFile?(file: OpenFile, path: string): number;
  /**
   * The served file behind fd number `fd` of the process (fget() of an fd
   * passed inside an ioctl struct), or undefined: not open, not served, or
   * not held by this process.
   */
  fileAt?(fd: number): OpenFile | undefined;
}

/** Linux poll.h event bits. */
export const POLLIN = 0x001;
export const POLLOUT = 0x004;
export const POLLERR = 0x008;

/**
 * One open file description of a device node. The daemon calls `release`
 * once, when the last process holding the file lets go of it (close of the
 * last fd, or exit).
 */
export interface OpenFile {
  /**
   * ioctl(fd, request, arg): `request` is the 32-bit command (the kernel
   * truncates the unsigned long), `arg` the raw argument (a user pointer or
   * an integer, as the command defines). @returns ≥ 0, or −errno.
   */
  ioctl(caller: Caller, request: number, arg: bigint): number;
  /** read(fd, buf, count) into user VA `buf`; absent → EINVAL (vfs_read without f_op->read). */
  read?(caller: Caller, buf: bigint, count: number): number;
  /** write(fd, buf, count) from user VA `buf`; absent → EINVAL. */
  write?(caller: Caller, buf: bigint, count: number): number;
  /** Ready events (POLLIN…) among `events`; absent → DEFAULT_POLLMASK (IN|OUT|RDNORM|WRNORM). */
  poll?(events: number): number;
  /** The last reference went away (Linux f_op->release); cannot fail. */
  release(): void;
}

/** A driver for some device nodes. */
export interface DeviceDriver {
  /** For messages, e.g. "iommufd". */
  readonly name: string;
  /** Paths served: exact, or a prefix when ending in "/". Must lie in DEVICE_NAMESPACE. */
  readonly paths: readonly string[];
  /**
   * open(path, flags): a new open file, or an Errno (ENOENT for a path under
   * a prefix that names nothing, ENOMEM when the model refuses…).
   */
  open(path: string, flags: number, caller: Caller): OpenFile | Errno;
}

/** Whether `path` matches a path list entry (exact, or under a prefix ending in "/"). */
export function pathMatches(entry: string, path: string): boolean {
  return entry.endsWith("/") ? path.startsWith(entry) && path.length > entry.length : path === entry;
}

/** The drivers of one daemon, looked up by path (the longest matching entry wins). */
export class DriverRegistry {
  private readonly drivers: DeviceDriver[] = [];

  constructor(drivers: readonly DeviceDriver[] = []) {
    for (const d of drivers) this.register(d);
  }

  /** Add a driver. @throws Error if one of its paths lies outside DEVICE_NAMESPACE (a programming error). */
  register(driver: DeviceDriver): void {
    for (const p of driver.paths) {
      if (!DEVICE_NAMESPACE.some((n) => n === p || pathMatches(n, p))) {
        throw new Error(`driver ${driver.name}: ${p} is outside the served namespace`);
      }
    }
    this.drivers.push(driver);
  }

  /** Whether the daemon answers opens of `path` (else the shim leaves it to the real system). */
  serves(path: string): boolean {
    return DEVICE_NAMESPACE.some((n) => pathMatches(n, path));
  }

  /** The driver for `path`, or ENOENT: nothing by that name in the model's /dev. */
  lookup(path: string): DeviceDriver | Errno {
    let best: DeviceDriver | undefined;
    let bestLength = -1;
    for (const d of this.drivers) {
      for (const p of d.paths) {
        if (pathMatches(p, path) && p.length > bestLength) {
          best = d;
          bestLength = p.length;
        }
      }
    }
    return best ?? errno("ENOENT", `no device node ${path} in the model`);
  }
}
