/**
 * The vEVENTQ fd's file operations (Linux drivers/iommu/iommufd/eventq.c
 * `iommufd_veventq_fops_read()`, `iommufd_eventq_fops_poll()` /
 * `_release()`; the fops have no write, so write(2) is EINVAL), on top of
 * the `iommufd.veventq.*` commands: a read that takes records is a command
 * (it changes the queue), poll only looks.
 */
import {
  type Errno,
  errno,
  IOMMU_VEVENTQ_FLAG_LOST_EVENTS,
  iommufdVeventHeader,
  isErrno,
} from "@iommu-sim/uapi";
import { POLLIN, POLLRDNORM } from "../fault/fd";
import type { IoctlEnv, IommufdFile } from "../ioctl/env";
import type { IommufdRoot } from "../root";
import { veventQueue } from "./decide";
import { pendingRecords, recordsThatFit, VEVENT_HEADER_SIZE, type VeventRecord } from "./queue";

/** `records` as read(2) copies them out: each `struct iommufd_vevent_header` followed by its data. */
export function veventRecordBytes(records: readonly VeventRecord[]): Uint8Array {
  const out = new Uint8Array(records.reduce((n, r) => n + VEVENT_HEADER_SIZE + r.data.length, 0));
  let at = 0;
  for (const r of records) {
    iommufdVeventHeader.encodeInto({ flags: r.flags, sequence: r.sequence }, out, at);
    out.set(r.data, at + VEVENT_HEADER_SIZE);
    at += VEVENT_HEADER_SIZE + r.data.length;
  }
  return out;
}

/**
 * read(2) of `length` bytes: whole records from the head while they fit —
 * 8-byte header {flags, sequence}, then the vEVENT's data (for the mock,
 * 4 bytes: virt_id); a lost-events header (flags
 * IOMMU_VEVENTQ_FLAG_LOST_EVENTS) has no data. No length rule beyond
 * that: a buffer too short for the head record, or an empty queue, reads
 * 0 bytes. Errors: EBADF when the queue is gone, EINVAL a negative or
 * non-integer length, ENOMEM (fault injection, veventq/decide.ts).
 */
export function veventqFileRead<R extends IommufdRoot>(
  env: IoctlEnv<R>,
  file: IommufdFile,
  length: number,
): Uint8Array | Errno {
  const found = veventQueue(env.peek(), file.ctx, file.id);
  if (isErrno(found)) return found;
  if (!Number.isSafeInteger(length) || length < 0) return errno("EINVAL", "bad length");
  const records = pendingRecords(found.queue, IOMMU_VEVENTQ_FLAG_LOST_EVENTS);
  // The command carries a u32 count; more than 4 GiB reads what 4 GiB − 1 would (the queue is far smaller).
  const count = Math.min(length, 0xffff_ffff);
  if (recordsThatFit(records, count) === 0) return new Uint8Array(0);
  const r = env.dispatch({ type: "iommufd.veventq.read", data: { ctx: file.ctx, id: file.id, count } });
  if (isErrno(r)) return r;
  const taken = r.find((e) => e.type === "iommufd.veventq.delivered");
  const n = taken === undefined ? 0 : (taken.data as { records: number }).records;
  return veventRecordBytes(records.slice(0, n));
}

/** poll(2): POLLIN | POLLRDNORM while a record waits, else 0 (no POLLOUT: a vEVENTQ is not writable). 0 when the queue is gone. */
export function veventqFilePoll<R extends IommufdRoot>(env: IoctlEnv<R>, file: IommufdFile): number {
  const found = veventQueue(env.peek(), file.ctx, file.id);
  if (isErrno(found)) return 0;
  return found.queue.deliver.length > 0 || found.queue.lost !== undefined ? POLLIN | POLLRDNORM : 0;
}

/** close(2): the fd's users reference on the vEVENTQ drops; its records stay until the object is destroyed. */
export function veventqFileRelease<R extends IommufdRoot>(env: IoctlEnv<R>, file: IommufdFile): void {
  env.dispatch({ type: "iommufd.veventq.release", data: { ctx: file.ctx, id: file.id } });
}
