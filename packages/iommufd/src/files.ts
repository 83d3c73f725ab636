/**
 * File operations of the anon-inode fds an iommufd context hands out
 * (Linux drivers/iommu/iommufd/eventq.c iommufd_fault_fops and
 * iommufd_veventq_fops, selftest.c iommfd_test_staccess_fops): read,
 * write, poll and release on an `IommufdFile`. The fault kind is
 * implemented in fault/fd.ts, the vEVENTQ kind (no write: EINVAL) in
 * veventq/fd.ts; an access fd
 * has only a release (read and write answer EINVAL, as vfs_read/vfs_write
 * on a file without those operations).
 */
import { type Errno, errno } from "@iommu-sim/uapi";
import { faultFilePoll, faultFileRead, faultFileRelease, faultFileWrite } from "./fault/fd";
import type { IoctlEnv, IommufdFile } from "./ioctl/env";
import type { IommufdRoot } from "./root";
import { releaseAccessFile } from "./selftest/access-file";
import { veventqFilePoll, veventqFileRead, veventqFileRelease } from "./veventq/fd";

export { POLLIN, POLLOUT, POLLRDNORM } from "./fault/fd";

/** poll(2): error (include/uapi/asm-generic/poll.h). */
export const POLLERR = 0x0008;

/**
 * read(2) of `length` bytes on `file`: the bytes read (possibly empty: read
 * returns 0), or an Errno. Fault fd: whole `struct iommu_hwpt_pgfault`
 * records (40 bytes each) of complete groups; ESPIPE for a length that is
 * not a multiple of 40; EBADF when the queue is gone (fault/fd.ts).
 * vEVENTQ fd: whole records, each an 8-byte `struct iommufd_vevent_header`
 * and its data (veventq/fd.ts). Access fd: EINVAL.
 */
export function iommufdFileRead<R extends IommufdRoot>(
  env: IoctlEnv<R>,
  file: IommufdFile,
  length: number,
): Uint8Array | Errno {
  if (file.kind === "fault") return faultFileRead(env, file, length);
  if (file.kind === "veventq") return veventqFileRead(env, file, length);
  return errno("EINVAL", `an ${file.kind} fd cannot be read`);
}

/**
 * write(2) of `bytes` on `file`: the number of bytes consumed, or an Errno.
 * Fault fd: `struct iommu_hwpt_page_response` records (8 bytes each);
 * ESPIPE for a length not a multiple of 8, EINVAL for a bad first record
 * (fault/fd.ts). vEVENTQ and access fds: EINVAL (no write operation).
 */
export function iommufdFileWrite<R extends IommufdRoot>(
  env: IoctlEnv<R>,
  file: IommufdFile,
  bytes: Uint8Array,
): number | Errno {
  if (file.kind === "fault") return faultFileWrite(env, file, bytes);
  return errno("EINVAL", `an ${file.kind} fd cannot be written`);
}

/** poll(2) of a file without a poll operation (Linux DEFAULT_POLLMASK: IN | OUT | RDNORM | WRNORM). */
export const DEFAULT_POLLMASK = 0x0145;

/**
 * poll(2) on `file`: fault fd POLLOUT, | POLLIN | POLLRDNORM while a group
 * waits to be read; access fd (no poll operation) DEFAULT_POLLMASK.
 */
export function iommufdFilePoll<R extends IommufdRoot>(env: IoctlEnv<R>, file: IommufdFile): number {
  if (file.kind === "fault") return faultFilePoll(env, file);
  if (file.kind === "veventq") return veventqFilePoll(env, file);
  return DEFAULT_POLLMASK;
}

/**
 * close(2) of the last reference to `file` (Linux f_op->release). An access
 * fd's release destroys the access (selftest/access-file.ts); a fault fd's
 * drops its users reference on the fault object (fault/fd.ts).
 */
export function iommufdFileRelease<R extends IommufdRoot>(env: IoctlEnv<R>, file: IommufdFile): void {
  if (file.kind === "access") releaseAccessFile(env, file);
  if (file.kind === "fault") faultFileRelease(env, file);
  if (file.kind === "veventq") veventqFileRelease(env, file);
}
