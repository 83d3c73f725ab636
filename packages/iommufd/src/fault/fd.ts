/**
 * The fault fd's file operations (Linux drivers/iommu/iommufd/eventq.c
 * iommufd_fault_fops_read / _write, iommufd_eventq_fops_poll / _release),
 * on top of the `iommufd.fault.*` commands: a read that takes groups and a
 * write that answers them are commands (they change the queue), poll only
 * looks.
 */
import { type Errno, errno, iommuHwptPageResponse, iommuHwptPgfault, isErrno } from "@iommu-sim/uapi";
import type { IoctlEnv, IommufdFile } from "../ioctl/env";
import type { IommufdRoot } from "../root";
import { acceptedResponses, faultQueue, PAGE_RESPONSE_SIZE, PGFAULT_SIZE } from "./decide";
import type { FaultQueue, IopfGroup } from "./queue";

/** poll(2) bits (include/uapi/asm-generic/poll.h). */
export const POLLIN = 0x0001;
/** poll(2): writable. */
export const POLLOUT = 0x0004;
/** poll(2): normal data readable. */
export const POLLRDNORM = 0x0040;

/** The `iommu_hwpt_pgfault` records of `g` (iommufd_compose_fault_message(): length 0, the group's cookie). */
export function groupRecords(g: IopfGroup, cookie: number): Uint8Array {
  const out = new Uint8Array(g.pages.length * PGFAULT_SIZE);
  g.pages.forEach((p, i) => {
    iommuHwptPgfault.encodeInto(
      {
        flags: p.flags,
        dev_id: g.devId,
        pasid: g.pasid,
        grpid: g.grpid,
        perm: p.perm,
        __reserved: 0,
        addr: p.addr,
        length: 0,
        cookie,
      },
      out,
      i * PGFAULT_SIZE,
    );
  });
  return out;
}

/** Whether read(2) of `length` bytes would take at least one group (else it returns 0 without a command). */
function readTakesSome(q: FaultQueue, length: number): boolean {
  const head = q.deliver[0];
  return head !== undefined && head.pages.length * PGFAULT_SIZE <= length;
}

/**
 * read(2): ESPIPE unless `length` is a multiple of 40 bytes (a shorter
 * read than one record included, 0 excepted); whole groups while they fit,
 * as `struct iommu_hwpt_pgfault` records; an empty array when the head
 * group does not fit or nothing is pending (read returns 0). EBADF when the
 * queue is gone.
 */
export function faultFileRead<R extends IommufdRoot>(
  env: IoctlEnv<R>,
  file: IommufdFile,
  length: number,
): Uint8Array | Errno {
  const q = faultQueue(env.peek(), file.ctx, file.id);
  if (isErrno(q)) return q;
  if (!Number.isSafeInteger(length) || length < 0) return errno("EINVAL", "bad length");
  if (length % PGFAULT_SIZE !== 0) return errno("ESPIPE", `read length ${length} is not a multiple of 40`);
  if (!readTakesSome(q, length)) return new Uint8Array(0);
  const r = env.dispatch({ type: "iommufd.fault.read", data: { ctx: file.ctx, id: file.id, count: length } });
  if (isErrno(r)) return r;
  const parts: Uint8Array[] = [];
  for (const rec of r) {
    if (rec.type !== "iommufd.fault.delivered") continue;
    for (const { seq, cookie } of (rec.data as { groups: { seq: number; cookie: number }[] }).groups)
      parts.push(groupRecords(q.deliver.find((g) => g.seq === seq)!, cookie));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * write(2) of `struct iommu_hwpt_page_response` records: ESPIPE unless a
 * multiple of 8 bytes; answers them in order up to the first bad one (a
 * code other than SUCCESS/INVALID, a cookie not awaiting a response →
 * EINVAL) and returns the bytes consumed, or that EINVAL when the first is
 * bad. EBADF when the queue is gone.
 */
export function faultFileWrite<R extends IommufdRoot>(
  env: IoctlEnv<R>,
  file: IommufdFile,
  bytes: Uint8Array,
): number | Errno {
  const q = faultQueue(env.peek(), file.ctx, file.id);
  if (isErrno(q)) return q;
  if (bytes.length % PAGE_RESPONSE_SIZE !== 0)
    return errno("ESPIPE", `write length ${bytes.length} is not a multiple of 8`);
  const responses: { cookie: number; code: number }[] = [];
  for (let at = 0; at < bytes.length; at += PAGE_RESPONSE_SIZE) {
    const v = iommuHwptPageResponse.decode(bytes, at);
    responses.push({ cookie: v.cookie, code: v.code });
  }
  const { accepted, error } = acceptedResponses(q, responses);
  if (accepted === 0) return error ?? 0;
  const r = env.dispatch({
    type: "iommufd.fault.respond",
    data: { ctx: file.ctx, id: file.id, responses: responses.slice(0, accepted) },
  });
  return isErrno(r) ? r : accepted * PAGE_RESPONSE_SIZE;
}

/** poll(2): POLLOUT always; POLLIN | POLLRDNORM while a group waits to be read. 0 when the queue is gone. */
export function faultFilePoll<R extends IommufdRoot>(env: IoctlEnv<R>, file: IommufdFile): number {
  const q = faultQueue(env.peek(), file.ctx, file.id);
  if (isErrno(q)) return 0;
  return POLLOUT | (q.deliver.length > 0 ? POLLIN | POLLRDNORM : 0);
}

/** close(2): pending groups are answered INVALID and the fd's users reference on the fault object drops (the object and its queue stay until destroyed). */
export function faultFileRelease<R extends IommufdRoot>(env: IoctlEnv<R>, file: IommufdFile): void {
  env.dispatch({ type: "iommufd.fault.release", data: { ctx: file.ctx, id: file.id } });
}
