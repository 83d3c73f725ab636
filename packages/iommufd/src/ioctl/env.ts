/**
 * What an ioctl needs from its surroundings: the log to commit commands
 * through, the current state to answer queries from, and the caller's
 * memory for the pointers inside structs.
 */
import type { LogRecord, Message } from "@iommu-sim/eventlog";
import type { Errno } from "@iommu-sim/uapi";

/**
 * The calling process's user memory (what `uptr`, `allowed_iovas`,
 * `data_uptr`… point into). Addresses are user virtual addresses in bytes.
 * Implementations: a simulated process (iopt's mm) or a real one (the cli's
 * preload shim). Faults are EFAULT, as copy_from_user/copy_to_user.
 */
export interface UserMemory {
  /** Copy `length` bytes from `va`; EFAULT where unmapped. */
  read(va: bigint, length: number): Uint8Array | Errno;
  /** Copy `bytes` to `va`; EFAULT where unmapped or read-only. */
  write(va: bigint, bytes: Uint8Array): Errno | undefined;
}

/**
 * A file an ioctl creates besides the context itself (Linux anon-inode
 * fds): a fault queue's fd (IOMMU_FAULT_QUEUE_ALLOC, `out_fault_fd`), a
 * vIOMMU event queue's fd (IOMMU_VEVENTQ_ALLOC, `out_veventq_fd`) or a
 * selftest access's fd (IOMMU_TEST_OP_CREATE_ACCESS, `out_access_fd`).
 * `id` is the object's id in context `ctx`'s table.
 */
export interface IommufdFile {
  readonly kind: "fault" | "veventq" | "access";
  readonly ctx: number;
  readonly id: number;
}

/** The environment of one ioctl call on an iommufd context. */
export interface IoctlEnv<R> {
  /** Decide and commit a command (an `EventLog`'s dispatch). */
  dispatch(command: Message): readonly LogRecord[] | Errno;
  /** The current root state; read-only and valid until the next dispatch. */
  peek(): R;
  /** The caller's memory. */
  readonly user: UserMemory;
  /**
   * VFIO container ioctls issued on an iommufd (Linux iommufd_vfio_ioctl);
   * vfio-compat installs it. Returns 0 or a positive value, or −errno.
   * Absent → ENOTTY.
   */
  vfio?(ctx: number, request: number, arg: Uint8Array): number;
  /**
   * Install a file descriptor for `file` in the caller's fd table and
   * return its number (what the ioctl writes to `out_fault_fd` /
   * `out_access_fd`); −errno (EMFILE…) when it cannot. Absent (a model
   * without processes, e.g. unit tests): the object id serves as the fd.
   */
  installFd?(file: IommufdFile): number;
  /**
   * The iommufd file behind fd number `fd` of the caller (what fget() finds),
   * or undefined when `fd` is not open or not an iommufd file. The selftest
   * access ops take an access fd in `id` (selftest.c iommufd_access_get()).
   * Absent (no `installFd` either): the fd is the access's object id in the
   * calling context.
   */
  fileOf?(fd: number): IommufdFile | undefined;
  /**
   * The model file object (an id of `root.mm.objects`) behind fd number
   * `fd` of the caller: what IOMMU_IOAS_MAP_FILE's fget() finds (Linux
   * ioas.c iommufd_ioas_map_file()). `undefined`: the fd is not open →
   * EBADF. An `Errno`: the fd is open but cannot back IOVA (not a memfd or
   * shmem file: EINVAL, as memfd_pin_folios()). Absent (a model without
   * fds): every MAP_FILE answers EBADF.
   */
  fileObject?(fd: number): number | Errno | undefined;
  /**
   * The calling process (Linux `current->tgid`): the process whose memory
   * IOMMU_IOAS_MAP / MAP_FILE pin and charge, and whose memory the selftest's
   * MD_CHECK_MAP / MD_CHECK_REFS read (`current->mm`). Absent: the pid that
   * opened the context (a model with one process per context).
   */
  readonly pid?: number;
}
