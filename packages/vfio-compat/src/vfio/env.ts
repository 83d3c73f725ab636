/**
 * What the VFIO group and device ioctls need from their surroundings
 * besides an iommufd ioctl's: the caller's fd table, to resolve the fd
 * numbers passed in (VFIO_GROUP_SET_CONTAINER's container fd,
 * VFIO_DEVICE_BIND_IOMMUFD's iommufd) and to install the fd
 * VFIO_GROUP_GET_DEVICE_FD returns.
 */
import type { IoctlEnv } from "@iommu-sim/iommufd";
import { type Errno, errno } from "@iommu-sim/uapi";
import type { VfioRoot } from "./state";

/**
 * The file an fd designates, as far as VFIO cares: an iommufd context
 * (an open /dev/iommu or /dev/vfio/vfio — the latter is iommufd's file too,
 * CONFIG_IOMMUFD_VFIO_CONTAINER), or any other file.
 */
export type VfioFdTarget = { readonly kind: "iommufd"; readonly ctx: number } | { readonly kind: "other" };

/** The environment of a VFIO group or device ioctl. */
export interface VfioEnv extends IoctlEnv<VfioRoot> {
  /**
   * The file behind `fd` in the caller's fd table, or undefined when `fd`
   * is not open (EBADF). Absent (unit tests, a model without processes):
   * an fd number is the id of the iommufd context it designates.
   */
  fdTarget?(fd: number): VfioFdTarget | undefined;
  /**
   * Install an fd for VFIO device file `file` (what
   * VFIO_GROUP_GET_DEVICE_FD returns) and return its number, or −errno
   * (EMFILE…). Absent: the file id serves as the fd.
   */
  installDeviceFd?(file: number): number;
}

/**
 * Resolve `fd` to an iommufd context as iommufd_ctx_from_file() /
 * iommufd_ctx_from_fd() do: EBADF not an open fd; EBADFD an open file that
 * is not an iommufd.
 */
export function iommufdOfFd(env: VfioEnv, fd: number): number | Errno {
  if (fd < 0) return errno("EBADF", `fd ${fd}`);
  if (env.fdTarget === undefined) {
    return env.peek().iommufd.contexts[fd] === undefined ? errno("EBADF", `no context ${fd}`) : fd;
  }
  const t = env.fdTarget(fd);
  if (t === undefined) return errno("EBADF", `fd ${fd} is not open`);
  if (t.kind !== "iommufd") return errno("EBADFD", `fd ${fd} is not an iommufd`);
  return t.ctx;
}

/** Whether `fd` is an open fd at all (fdget), before its kind is looked at. */
export function fdIsOpen(env: VfioEnv, fd: number): boolean {
  if (fd < 0) return false;
  if (env.fdTarget === undefined) return env.peek().iommufd.contexts[fd] !== undefined;
  return env.fdTarget(fd) !== undefined;
}
