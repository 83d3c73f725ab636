/**
 * The byte-level /dev/ioasid entry point: what ioasid_fops_unl_ioctl() does
 * with a request number and the caller's argument bytes (RFC, seeds/000).
 */
import {
  type Errno,
  IOASID_API_VERSION,
  IOASID_BITS,
  IOASID_IOCTL,
  type IoasidCommand,
  ioasidAllocRequestCopyIn,
  ioasidFreeCopyIn,
  ioasidGetInfoCopyIn,
  ioasidInfo,
  ioasidUnknownIoctl,
  isErrno,
} from "@iommu-sim/uapi";
import { heldFile } from "./devioasid";
import type { IoasidState } from "./state";

/** What the ioctl needs of a log: dispatch a command, read the root's `ioasid` slice. (`EventLog` fits.) */
export interface IoasidDispatcher {
  readonly state: { readonly ioasid: IoasidState };
  dispatch(command: IoasidCommand): readonly { readonly type: string; readonly data: unknown }[] | Errno;
}

/**
 * ioctl(fd, request, arg) on /dev/ioasid by process `pid`.
 *
 * - IOASID_GET_API_VERSION → IOASID_API_VERSION (0).
 * - IOASID_GET_INFO: reads `struct ioasid_info` (argsz < 12 or flags ≠ 0 →
 *   -EINVAL, fewer than 12 bytes → -EFAULT) and writes the 12 bytes back
 *   with ioasid_bits = 31, as copy_to_user(minsz) does.
 * - IOASID_REQUEST_ALLOC: reads `struct ioasid_alloc_request`; returns the
 *   new PASID, or -EINVAL for a bad argument or any allocation failure
 *   (quota, no free PASID), as the RFC does.
 * - IOASID_REQUEST_FREE: reads an `int`; returns 0 — also when the id is not
 *   the caller's (the RFC's ioasid_free() is void: nothing is freed then).
 * - anything else → -EINVAL (ioasid_fops_unl_ioctl's default).
 *
 * An fd `pid` does not hold → -EBADF; ALLOC/FREE through an fd obtained by
 * transfer → -EPERM (Documentation/userspace-api/ioasid.rst).
 *
 * @param arg the caller's argument bytes; written in place like copy_to_user.
 * @returns the ioctl's return value: ≥ 0 on success, -errno on failure.
 */
export function ioasidIoctl(
  log: IoasidDispatcher,
  pid: number,
  fd: number,
  request: number,
  arg: Uint8Array,
): number {
  const file = heldFile(log.state.ioasid, pid, fd);
  if (isErrno(file)) return file.ret;
  switch (request >>> 0) {
    case IOASID_IOCTL.IOASID_GET_API_VERSION:
      return IOASID_API_VERSION;
    case IOASID_IOCTL.IOASID_GET_INFO: {
      const r = ioasidGetInfoCopyIn(arg);
      if (isErrno(r)) return r.ret;
      arg.set(ioasidInfo.encode({ ...r.value, ioasid_bits: IOASID_BITS }).subarray(0, ioasidInfo.minSize));
      return 0;
    }
    case IOASID_IOCTL.IOASID_REQUEST_ALLOC: {
      const r = ioasidAllocRequestCopyIn(arg);
      if (isErrno(r)) return r.ret;
      const { min, max } = r.value.range;
      const events = log.dispatch({ type: "ioasid.alloc", data: { pid, fd, min, max } });
      if (isErrno(events)) return events.ret;
      // A committed ioasid.alloc always carries exactly one pasid.allocated.
      const allocated = events.find((e) => e.type === "pasid.allocated")!;
      return (allocated.data as { pasid: number }).pasid;
    }
    case IOASID_IOCTL.IOASID_REQUEST_FREE: {
      const pasid = ioasidFreeCopyIn(arg);
      if (isErrno(pasid)) return pasid.ret;
      const r = log.dispatch({ type: "ioasid.free", data: { pid, fd, pasid } });
      if (isErrno(r)) return r.name === "ENOENT" ? 0 : r.ret;
      return 0;
    }
    default:
      return ioasidUnknownIoctl(request).ret;
  }
}
