/**
 * A vIOMMU event queue (Linux `struct iommufd_veventq` in
 * drivers/iommu/iommufd/iommufd_private.h, with eventq.c's read side and
 * driver.c's `iommufd_viommu_report_event()`): records wait in `deliver`,
 * oldest first, each with the sequence number the queue gave it. At most
 * `depth` vEVENTs wait (`num_events`); a report beyond that is lost, and
 * the queue's single lost-events header (`lost_events_header`, flags
 * IOMMU_VEVENTQ_FLAG_LOST_EVENTS, no data) sits at the tail carrying the
 * sequence number the lost vEVENT would have had. Every report — kept or
 * lost — takes the next sequence number, which runs 0..INT_MAX and wraps
 * to 0 (`iommufd_vevent_handler()`), so a reader sees a gap in the
 * sequence or the header where vEVENTs went missing.
 *
 * Pure transitions on frozen values; the iommufd slice holds one queue per
 * vEVENTQ object, keyed by the object's kobj (`IommufdState.veventqs`).
 */
import { iommufdVeventHeader } from "@iommu-sim/uapi";

/** INT_MAX: the last sequence number before the wrap to 0. */
export const VEVENT_SEQUENCE_MAX = 0x7fff_ffff;

/** Bytes of `struct iommufd_vevent_header` {u32 flags; u32 sequence} before each record's data. */
export const VEVENT_HEADER_SIZE = iommufdVeventHeader.size;

/** One vEVENT (Linux `struct iommufd_vevent`): its header's sequence and its type-specific data. */
export interface Vevent {
  readonly sequence: number;
  /** The driver's event data (`event_data`, `data_len` bytes). */
  readonly data: Uint8Array;
}

/** One vEVENTQ. */
export interface VeventQueue {
  /** The context and object id of the vEVENTQ object. */
  readonly ctx: number;
  readonly id: number;
  /** The vIOMMU's object id (the queue holds a users reference on it). */
  readonly viommu: number;
  /** enum iommu_veventq_type (IOMMU_VEVENTQ_TYPE_SELFTEST 0xbeefbeef for the mock). */
  readonly type: number;
  /** veventq_depth: the most vEVENTs that wait at once. */
  readonly depth: number;
  /** vEVENTs not read yet, oldest first (Linux `common.deliver` without the lost-events header). */
  readonly deliver: readonly Vevent[];
  /** The lost-events header's sequence while it waits at the tail of `deliver`; absent when it does not. */
  readonly lost?: number;
  /** The sequence number the next report takes (`veventq->sequence`). */
  readonly sequence: number;
}

/** An empty queue (`iommufd_veventq_alloc()`): sequence 0, nothing waiting. */
export function emptyVeventQueue(
  ctx: number,
  id: number,
  viommu: number,
  type: number,
  depth: number,
): VeventQueue {
  return { ctx, id, viommu, type, depth, deliver: [], sequence: 0 };
}

/** `(sequence + 1) & INT_MAX`. */
function nextSequence(s: number): number {
  return (s + 1) & VEVENT_SEQUENCE_MAX;
}

/** Whether a report now would be lost (`num_events == depth`). */
export function veventqFull(q: VeventQueue): boolean {
  return q.deliver.length >= q.depth;
}

/**
 * `iommufd_vevent_handler()` with a vEVENT: the lost-events header, if it
 * waits at the tail, leaves; the vEVENT joins the tail with the next
 * sequence number. The caller checked `veventqFull` (a full queue loses it).
 */
export function queueVevent(q: VeventQueue, data: Uint8Array): VeventQueue {
  const { lost: _dropped, ...rest } = q;
  return {
    ...rest,
    deliver: [...q.deliver, { sequence: q.sequence, data }],
    sequence: nextSequence(q.sequence),
  };
}

/**
 * `iommufd_vevent_handler()` with the lost-events header: it moves to the
 * tail (or stays there) with the next sequence number.
 */
export function queueLost(q: VeventQueue): VeventQueue {
  return { ...q, lost: q.sequence, sequence: nextSequence(q.sequence) };
}

/** One record as read(2) lays it out: the header, then the data (none for the lost-events header). */
export interface VeventRecord {
  readonly flags: number;
  readonly sequence: number;
  readonly data: Uint8Array;
}

/** The records waiting, in read order: the vEVENTs, then the lost-events header if it waits. */
export function pendingRecords(q: VeventQueue, flagLost: number): VeventRecord[] {
  const out: VeventRecord[] = q.deliver.map((v) => ({ flags: 0, sequence: v.sequence, data: v.data }));
  if (q.lost !== undefined) out.push({ flags: flagLost, sequence: q.lost, data: new Uint8Array(0) });
  return out;
}

/**
 * How many records from the head a read(2) of `count` bytes takes
 * (`iommufd_veventq_fops_read()`): each needs room for its 8-byte header,
 * and a vEVENT for its data too; the first that does not fit stays and
 * ends the read.
 */
export function recordsThatFit(records: readonly VeventRecord[], count: number): number {
  let done = 0;
  let n = 0;
  for (const r of records) {
    if (done >= count || VEVENT_HEADER_SIZE + r.data.length > count - done) break;
    done += VEVENT_HEADER_SIZE + r.data.length;
    n++;
  }
  return n;
}

/**
 * The queue after read(2) took `n` records from the head: vEVENTs first;
 * a count past them takes the lost-events header off the list (its copy
 * was read, `iommufd_veventq_deliver_fetch()`).
 */
export function takeRecords(q: VeventQueue, n: number): VeventQueue {
  const deliver = q.deliver.slice(n);
  if (n <= q.deliver.length) return { ...q, deliver };
  const { lost: _read, ...rest } = q;
  return { ...rest, deliver };
}
