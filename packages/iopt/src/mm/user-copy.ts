/**
 * Reading user memory without side effects: copy_from_user() for the model's
 * callers (tests, iommufd's ioctl layer reading `uptr` arrays). Pages never
 * faulted in read as zeros, as anonymous memory does.
 */
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import { lookupPage } from "./fault";
import { type MmState, PAGE_SIZE, TASK_SIZE } from "./state";

/**
 * `length` bytes at user VA `va` of process `pid`.
 * @returns the bytes, or EFAULT when part of the range is not readable.
 */
export function readUser(mm: MmState, pid: number, va: bigint, length: number): Uint8Array | Errno {
  if (va + BigInt(length) > BigInt(TASK_SIZE)) return errno("EFAULT", "address beyond user space");
  const out = new Uint8Array(length);
  let addr = Number(va);
  let done = 0;
  while (done < length) {
    const off = addr % PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - off, length - done);
    const pfn = lookupPage(mm, pid, Math.floor(addr / PAGE_SIZE));
    if (isErrno(pfn)) return pfn;
    if (pfn >= 0) out.set(mm.ram.read(pfn * PAGE_SIZE + off, n), done);
    done += n;
    addr += n;
  }
  return out;
}

/** The physical address behind user VA `va` without faulting: bytes, -1 if not faulted in, or EFAULT. */
export function userVaToPa(mm: MmState, pid: number, va: bigint): number | Errno {
  if (va >= BigInt(TASK_SIZE)) return errno("EFAULT", "address beyond user space");
  const a = Number(va);
  const pfn = lookupPage(mm, pid, Math.floor(a / PAGE_SIZE));
  if (isErrno(pfn)) return pfn;
  return pfn < 0 ? -1 : pfn * PAGE_SIZE + (a % PAGE_SIZE);
}
