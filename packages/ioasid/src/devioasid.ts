/**
 * /dev/ioasid as the RFC has it (seeds/000, drivers/iommu/ioasid_user.c):
 * one open per process address space, PASID alloc/free in the opener's
 * IOASID set, release of the set with the last fd, and the rule of
 * Documentation/userspace-api/ioasid.rst that "FDs obtained by transfer
 * cannot be used to perform IOASID requests".
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import { type Errno, errno, type IoasidCommand, type IoasidEvent, isErrno } from "@iommu-sim/uapi";
import { charged, tryCharge } from "./quota";
import { freeSetIds } from "./sets";
import { cgroupOf, type IoasidFile, type IoasidState, mmOf } from "./state";

type Cmd<T extends IoasidCommand["type"]> = Extract<IoasidCommand, { type: T }>["data"];
type Decision = readonly IoasidEvent[] | Errno;

/** Largest value of an IOASID range: the uAPI is 31 bits wide (ioasid_user.c IOASID_BITS). */
const RANGE_LIMIT = 2 ** 31;

/** The file `fd` if `pid` holds it, else EBADF (fdget() fails). */
export function heldFile(state: IoasidState, pid: number, fd: number): IoasidFile | Errno {
  const file = state.files[fd];
  if (file === undefined || !file.holders.includes(pid))
    return errno("EBADF", `pid ${pid} holds no fd ${fd}`);
  return file;
}

/**
 * The file `fd` if `pid` may make IOASID requests through it: it holds it
 * (else EBADF) and it was opened by its own address space (else EPERM: a
 * forked or passed fd cannot be used for requests).
 */
function requestFile(state: IoasidState, pid: number, fd: number): IoasidFile | Errno {
  const file = heldFile(state, pid, fd);
  if (isErrno(file)) return file;
  if (file.mm !== mmOf(pid) || state.users[file.mm] !== fd)
    return errno("EPERM", `fd ${fd} belongs to mm ${file.mm}, not the caller's (obtained by transfer)`);
  return file;
}

/**
 * ioasid_fops_open(): EBUSY when the caller's mm already has /dev/ioasid
 * open; otherwise allocates the `ioasid_user` (ENOMEM) and, if the mm has
 * none yet, its IOASID set (ENOMEM).
 * Events: [ioasid.set.allocated], ioasid.opened {fd}.
 */
export function decideOpen(
  state: IoasidState,
  c: Cmd<"ioasid.open">,
  ctx: SubsystemDecideContext<unknown>,
): Decision {
  const mm = mmOf(c.pid);
  if (state.users[mm] !== undefined) return errno("EBUSY", `mm ${mm} already has /dev/ioasid open`);
  const out: IoasidEvent[] = [];
  let e = ctx.step("ioasid.open.kzalloc");
  if (e) return e;
  if (state.sets[mm] === undefined) {
    e = ctx.step("ioasid.set_alloc");
    if (e) return e;
    out.push({ type: "ioasid.set.allocated", data: { mm, cgroup: cgroupOf(state, c.pid) } });
  }
  out.push({ type: "ioasid.opened", data: { pid: c.pid, fd: state.lastFd + 1, mm } });
  return out;
}

/**
 * Events releasing `file` (ioasid_fops_release() → ioasid_user_release()):
 * if it still owns its mm's set, every /dev/ioasid PASID of the set is
 * freed and uncharged, and the set is freed unless an SVA bond still uses it.
 */
export function releaseFile(state: IoasidState, file: IoasidFile): IoasidEvent[] {
  const out: IoasidEvent[] = [];
  const set = state.sets[file.mm];
  if (state.users[file.mm] === file.fd && set !== undefined) {
    out.push(...freeSetIds(set));
    if (set.svaPasid === undefined) out.push({ type: "ioasid.set.freed", data: { mm: file.mm } });
  }
  out.push({ type: "ioasid.released", data: { fd: file.fd, mm: file.mm } });
  return out;
}

/** close(fd): EBADF unless pid holds it; the last hold releases the file. Events: ioasid.fd.closed, [release]. */
export function decideClose(state: IoasidState, c: Cmd<"ioasid.close">): Decision {
  const file = heldFile(state, c.pid, c.fd);
  if (isErrno(file)) return file;
  const out: IoasidEvent[] = [{ type: "ioasid.fd.closed", data: { fd: c.fd, pid: c.pid } }];
  if (file.holders.length === 1) out.push(...releaseFile(state, file));
  return out;
}

/** Pass fd from one process to another (SCM_RIGHTS): EBADF unless fromPid holds it. Events: ioasid.fd.shared. */
export function decideShare(state: IoasidState, c: Cmd<"ioasid.fd.share">): Decision {
  const file = heldFile(state, c.fromPid, c.fd);
  if (isErrno(file)) return file;
  return [{ type: "ioasid.fd.shared", data: { fd: c.fd, pid: c.toPid } }];
}

/**
 * IOASID_REQUEST_ALLOC (ioasid_alloc_request()): the lowest free PASID in
 * [min, max] for the caller's set.
 * Errors: EBADF/EPERM (see requestFile); EINVAL for min > max or a bound ≥ 2^31;
 * EINVAL when over quota or no PASID is free in the range — the RFC maps
 * every ioasid_alloc() failure (INVALID_IOASID) to -EINVAL; the reason says
 * which; ENOMEM (injected) for the ioasid_data allocation.
 * Events: ioasid.quota.charged, pasid.allocated {use: "ioasid"}.
 */
export function decideAlloc(
  state: IoasidState,
  c: Cmd<"ioasid.alloc">,
  ctx: SubsystemDecideContext<unknown>,
): Decision {
  const file = requestFile(state, c.pid, c.fd);
  if (isErrno(file)) return file;
  if (c.min > c.max || c.min >= RANGE_LIMIT || c.max >= RANGE_LIMIT)
    return errno("EINVAL", `bad range [${c.min}, ${c.max}]`);
  const set = state.sets[file.mm]!;
  const over = tryCharge(state, set.cgroup, 1);
  if (over) return errno("EINVAL", `ioasid_alloc failed: ${over.toString()}`);
  const pasid = state.space.lowestClear(c.min, c.max);
  if (pasid < 0) return errno("EINVAL", `ioasid_alloc failed: no free PASID in [${c.min}, ${c.max}]`);
  const e = ctx.step("ioasid.alloc.kzalloc");
  if (e) return e;
  return [
    charged(set.cgroup, set.mm, 1),
    { type: "pasid.allocated", data: { pasid, use: "ioasid", mm: set.mm } },
  ];
}

/**
 * IOASID_REQUEST_FREE (ioasid_free_request()): free a PASID of the caller's set.
 * Errors: EBADF/EPERM (see requestFile); EINVAL for a negative id (≥ 2^31
 * as a C int); ENOENT when the PASID is not in the caller's set (never
 * allocated, already freed, another set's) — the RFC's ioasid_free() is
 * void and ignores it, so the ioctl returns 0 there (see ioasidIoctl).
 * Events: pasid.freed {use: "ioasid"}, ioasid.quota.uncharged.
 */
export function decideFree(state: IoasidState, c: Cmd<"ioasid.free">): Decision {
  const file = requestFile(state, c.pid, c.fd);
  if (isErrno(file)) return file;
  if (c.pasid >= RANGE_LIMIT) return errno("EINVAL", "negative ioasid");
  const set = state.sets[file.mm]!;
  if (!set.ids.has(c.pasid)) return errno("ENOENT", `PASID ${c.pasid} is not in mm ${set.mm}'s set`);
  return [
    { type: "pasid.freed", data: { pasid: c.pasid, use: "ioasid", mm: set.mm } },
    { type: "ioasid.quota.uncharged", data: { cgroup: set.cgroup, mm: set.mm, count: 1 } },
  ];
}
