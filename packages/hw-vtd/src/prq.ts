/**
 * The page request queue: 256-bit page request descriptors the unit writes
 * into a ring in memory (PQA_REG) at the tail (PQT_REG), which software
 * reads from the head (PQH_REG) and answers with page group response
 * descriptors through the invalidation queue.
 *
 * Descriptor layout (VT-d spec rev 4.1 §7.5.1; Linux
 * drivers/iommu/intel/prq.c `struct page_req_dsc`): qw0 bits 7:0 type
 * (1 = page request), bit 8 PASID present, bits 31:16 RID, bits 51:32
 * PASID, bit 52 execute requested, bit 53 privileged mode requested; qw1
 * bit 0 read, bit 1 write, bit 2 LPIG (last page in group), bits 11:3 page
 * request group index, bits 63:12 page address; qw2–qw3 private data (0).
 */
import {
  IOMMU_PGFAULT_FLAGS_LAST_PAGE,
  IOMMU_PGFAULT_FLAGS_PASID_VALID,
  type IommuHwptPgfault,
  pgfaultPerm,
} from "@iommu-sim/uapi";
import { type Descriptor, pageGroupResponseDesc } from "./descriptors";
import { PRQ_DESC_SIZE, type VtdUnit } from "./state";

/** Page request descriptor type (bits 7:0). */
export const PRQ_TYPE_PAGE_REQUEST = 1;

/** A page request, decoded. */
export interface PageRequest {
  readonly rid: number;
  /** Present when the request carried a PASID. */
  readonly pasid?: number;
  /** Page address (bytes, 4 KiB aligned). */
  readonly addr: bigint;
  readonly read: boolean;
  readonly write: boolean;
  readonly exec: boolean;
  readonly privileged: boolean;
  /** Last page in group. */
  readonly lpig: boolean;
  /** Page request group index (9 bits). */
  readonly index: number;
}

/** Encode a page request descriptor (32 bytes). */
export function encodePageRequest(r: PageRequest): Uint8Array {
  const out = new Uint8Array(PRQ_DESC_SIZE);
  const v = new DataView(out.buffer);
  const qw0 =
    BigInt(PRQ_TYPE_PAGE_REQUEST) |
    (r.pasid === undefined ? 0n : 1n << 8n) |
    (BigInt(r.rid & 0xffff) << 16n) |
    (BigInt((r.pasid ?? 0) & 0xfffff) << 32n) |
    (r.exec ? 1n << 52n : 0n) |
    (r.privileged ? 1n << 53n : 0n);
  const qw1 =
    (r.read ? 1n : 0n) |
    (r.write ? 2n : 0n) |
    (r.lpig ? 4n : 0n) |
    (BigInt(r.index & 0x1ff) << 3n) |
    (r.addr & ~0xfffn);
  v.setBigUint64(0, qw0, true);
  v.setBigUint64(8, BigInt.asUintN(64, qw1), true);
  return out;
}

/** Decode a page request descriptor from its first 16 bytes. */
export function decodePageRequest(bytes: Uint8Array): PageRequest {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const qw0 = v.getBigUint64(0, true);
  const qw1 = v.getBigUint64(8, true);
  const pasidPresent = ((qw0 >> 8n) & 1n) === 1n;
  return {
    rid: Number((qw0 >> 16n) & 0xffffn),
    ...(pasidPresent ? { pasid: Number((qw0 >> 32n) & 0xfffffn) } : {}),
    addr: qw1 & ~0xfffn,
    read: (qw1 & 1n) === 1n,
    write: ((qw1 >> 1n) & 1n) === 1n,
    exec: ((qw0 >> 52n) & 1n) === 1n,
    privileged: ((qw0 >> 53n) & 1n) === 1n,
    lpig: ((qw1 >> 2n) & 1n) === 1n,
    index: Number((qw1 >> 3n) & 0x1ffn),
  };
}

/** Size of the unit's page request queue in bytes. */
export function prqSize(unit: VtdUnit): number {
  return unit.config.prqFrames * 4096;
}

/** Whether writing one more descriptor would overrun the head (the queue is full). */
export function prqFull(unit: VtdUnit): boolean {
  return prqRoom(unit) === 0;
}

/** Descriptors the queue can still take (one slot stays empty: head = tail means empty). */
export function prqRoom(unit: VtdUnit): number {
  const size = prqSize(unit);
  const used = (unit.prqTail - unit.prqHead + size) % size;
  return (size - used) / PRQ_DESC_SIZE - 1;
}

/**
 * The descriptors between head and tail, oldest first, read from the queue
 * memory as software reads them (Linux `prq_event_thread()`).
 */
export function pendingPageRequests(unit: VtdUnit): PageRequest[] {
  const out: PageRequest[] = [];
  const size = prqSize(unit);
  for (let off = unit.prqHead; off !== unit.prqTail; off = (off + PRQ_DESC_SIZE) % size)
    out.push(decodePageRequest(unit.tables.read(unit.prqBase + off, PRQ_DESC_SIZE)));
  return out;
}

/** The page request group index a new request of `rid` gets: the lowest not awaiting a response. */
export function freeGroupIndex(unit: VtdUnit, rid: number): number {
  for (let i = 0; i < 512; i++) {
    const g = unit.pageGroups.get(rid * 512 + i);
    if (g === undefined || g.response !== undefined) return i;
  }
  return -1;
}

/** Linux `IOMMU_FAULT_PAGE_RESPONSE_NEEDS_PASID` (include/linux/iommu.h): set with PASID_VALID and copied into the user record's flags by iommufd. */
export const IOMMU_FAULT_PAGE_RESPONSE_NEEDS_PASID = 1 << 2;

/**
 * The `struct iommu_hwpt_pgfault` record iommufd's fault queue delivers for
 * a page request: Linux prq.c `intel_prq_report()` (flags LAST_PAGE /
 * PASID_VALID | RESPONSE_NEEDS_PASID, perm from R/W/EXE/PM, grpid = the
 * group index) then iommufd fault.c `iommufd_compose_fault_message()`
 * (flags copied as they are, length 0, the cookie iommufd assigned).
 */
export function pageRequestToPgfault(req: PageRequest, devId: number, cookie: number): IommuHwptPgfault {
  return {
    flags:
      (req.lpig ? IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0) |
      (req.pasid === undefined ? 0 : IOMMU_PGFAULT_FLAGS_PASID_VALID | IOMMU_FAULT_PAGE_RESPONSE_NEEDS_PASID),
    dev_id: devId,
    pasid: req.pasid ?? 0,
    grpid: req.index,
    perm: pgfaultPerm({ read: req.read, write: req.write, exec: req.exec, priv: req.privileged }),
    __reserved: 0,
    addr: req.addr,
    length: 0,
    cookie,
  };
}

/**
 * The page group response descriptor the driver queues when software
 * answers `req` with `code` (IOMMUFD_PAGE_RESP_SUCCESS 0 / INVALID 1):
 * Linux prq.c `intel_page_response()`.
 */
export function pageResponseFor(req: PageRequest, code: number): Descriptor {
  return pageGroupResponseDesc(req.rid, req.index, code, req.pasid, req.lpig);
}
