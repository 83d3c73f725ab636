/**
 * Deciders of the fault queue commands (Linux drivers/iommu/iommufd/eventq.c):
 * IOMMU_FAULT_QUEUE_ALLOC, the fault fd's read and write, its release,
 * what destroying the object answers, and selftest.c's
 * IOMMU_TEST_OP_TRIGGER_IOPF.
 */
import type { DecideContext } from "@iommu-sim/eventlog";
import {
  type Errno,
  errno,
  IOMMU_PGFAULT_FLAGS_LAST_PAGE,
  IOMMU_PGFAULT_FLAGS_PASID_VALID,
  IOMMUFD_PAGE_RESP_INVALID,
  IOMMUFD_PAGE_RESP_SUCCESS,
  iommuHwptPageResponse,
  iommuHwptPgfault,
  isErrno,
} from "@iommu-sim/uapi";
import { deviceOf } from "../devices";
import { allocObjectId, getContext, getObject } from "../objects";
import type { IommufdRoot } from "../root";
import type { IommufdObject } from "../state";
import { type ResponseRoot, responseEvents } from "./hw-response";
import { allocCookie, type FaultQueue, type FaultSource, type IopfGroup, pendingGroups } from "./queue";
import { handlePasid, targetOf } from "./route";

type Decided = { type: string; data: unknown }[];

/** Bytes of one `struct iommu_hwpt_pgfault` record (read(2) counts are multiples of it). */
export const PGFAULT_SIZE = iommuHwptPgfault.size;
/** Bytes of one `struct iommu_hwpt_page_response` (write(2) counts are multiples of it). */
export const PAGE_RESPONSE_SIZE = iommuHwptPageResponse.size;

/**
 * IOMMU_FAULT_QUEUE_ALLOC: a fault object (kobj = the next global id) with
 * an empty queue, its fd holding one users reference (`external`: 1) until
 * it is closed. `flags` ≠ 0 → EOPNOTSUPP (checked by the ioctl's copy-in:
 * knownFlags 0). Errors: EBADF, ENOSPC (ids), ENOMEM at
 * `iommufd.fault_alloc` (the object) and `iommufd.fault_getfile`
 * (anon_inode_getfile).
 */
export function decideFaultAlloc(root: IommufdRoot, ctxId: number, ctx: DecideContext): Decided | Errno {
  const c = getContext(root.iommufd, ctxId);
  if (isErrno(c)) return c;
  const id = allocObjectId(c);
  if (isErrno(id)) return id;
  const fail = ctx.step("iommufd.fault_alloc", "ENOMEM") ?? ctx.step("iommufd.fault_getfile", "ENOMEM");
  if (fail) return fail;
  return [
    {
      type: "iommufd.object.created",
      data: { ctx: ctxId, id, type: "fault", kobj: root.iommufd.nextKobj, refs: [], external: 1 },
    },
  ];
}

/** The queue behind fault object `id` of context `ctxId`: EBADF when the context or the object is gone. */
export function faultQueue(root: IommufdRoot, ctxId: number, id: number): FaultQueue | Errno {
  const c = root.iommufd.contexts[ctxId];
  const obj = c?.objects[id];
  const q = obj?.type === "fault" && obj.kobj !== undefined ? root.iommufd.faults?.[obj.kobj] : undefined;
  return q ?? errno("EBADF", `no fault queue ${ctxId}:${id}`);
}

/**
 * read(2) of `count` bytes (iommufd_fault_fops_read): ESPIPE unless `count`
 * is a multiple of 40; then whole groups from the head of the deliver list
 * while their records fit, each getting the lowest free cookie ≥ 1 (fault
 * point `iommufd.fault_cookie_alloc`, ENOMEM: the read stops there, and
 * fails only if nothing was read). No group fits → no events (read returns 0).
 */
export function decideFaultRead(
  root: IommufdRoot,
  d: { ctx: number; id: number; count: number },
  ctx: DecideContext,
): Decided | Errno {
  const q = faultQueue(root, d.ctx, d.id);
  if (isErrno(q)) return q;
  if (d.count % PGFAULT_SIZE !== 0) return errno("ESPIPE", `read length ${d.count} is not a multiple of 40`);
  const groups: { seq: number; cookie: number }[] = [];
  let done = 0;
  for (const g of q.deliver) {
    if (done >= d.count || g.pages.length * PGFAULT_SIZE > d.count - done) break;
    const fail = ctx.step("iommufd.fault_cookie_alloc", "ENOMEM");
    const cookie = fail
      ? undefined
      : allocCookie(
          q,
          groups.map((x) => x.cookie),
        );
    if (cookie === undefined) {
      if (groups.length === 0) return fail ?? errno("EBUSY", "cookies exhausted");
      break;
    }
    groups.push({ seq: g.seq, cookie });
    done += g.pages.length * PGFAULT_SIZE;
  }
  if (groups.length === 0) return [];
  const fault = root.iommufd.contexts[d.ctx]!.objects[d.id]!.kobj!;
  return [{ type: "iommufd.fault.delivered", data: { fault, groups } }];
}

/**
 * How many of `responses` write(2) accepts, in order (iommufd_fault_fops_write
 * stops at the first bad one): a code other than SUCCESS/INVALID or a
 * cookie not awaiting a response (never read, already answered, or earlier
 * in the same write) ends the run; `error` is its EINVAL.
 */
export function acceptedResponses(
  q: FaultQueue,
  responses: readonly { cookie: number; code: number }[],
): { accepted: number; error?: Errno } {
  const seen = new Set<number>();
  for (let i = 0; i < responses.length; i++) {
    const { cookie, code } = responses[i]!;
    if (code !== IOMMUFD_PAGE_RESP_SUCCESS && code !== IOMMUFD_PAGE_RESP_INVALID)
      return { accepted: i, error: errno("EINVAL", `response code ${code}`) };
    if (q.response[cookie] === undefined || seen.has(cookie))
      return { accepted: i, error: errno("EINVAL", `no group awaits cookie ${cookie}`) };
    seen.add(cookie);
  }
  return { accepted: responses.length };
}

/** `iommufd.fault.responded` for `g` plus its hardware response. */
function answer(root: IommufdRoot, fault: number, g: IopfGroup, code: number): Decided {
  const last = g.pages[g.pages.length - 1]!;
  return [
    { type: "iommufd.fault.responded", data: { fault, seq: g.seq, code } },
    ...responseEvents(root as unknown as ResponseRoot, { ...g, flags: last.flags }, code),
  ];
}

/**
 * write(2) of page responses, all of them valid (the file op passes the
 * accepted prefix, `acceptedResponses`): each group leaves the response
 * table and its response reaches the hardware (hw-response.ts). Errors:
 * EBADF, EINVAL (a bad code or cookie: the whole command is refused).
 */
export function decideFaultRespond(
  root: IommufdRoot,
  d: { ctx: number; id: number; responses: readonly { cookie: number; code: number }[] },
): Decided | Errno {
  const q = faultQueue(root, d.ctx, d.id);
  if (isErrno(q)) return q;
  const { accepted, error } = acceptedResponses(q, d.responses);
  if (accepted < d.responses.length) return error!;
  const fault = root.iommufd.contexts[d.ctx]!.objects[d.id]!.kobj!;
  return d.responses.flatMap((r) => answer(root, fault, q.response[r.cookie]!, r.code));
}

/**
 * The fault fd is closed: every group still waiting (deliver list, then
 * response table) is answered IOMMU_PAGE_RESP_INVALID — nobody is left to
 * read or answer it — and the fd's users reference drops. The issue asks
 * for this ("unanswered faults are answered INVALID on close") and Linux
 * v6.11's iommufd_fault_fops_release() did it; later kernels moved the
 * auto-response to the object's destroy, which still happens here too
 * (faultDestroyEffects). EBADF when already released or gone.
 */
export function decideFaultRelease(root: IommufdRoot, d: { ctx: number; id: number }): Decided | Errno {
  const obj = root.iommufd.contexts[d.ctx]?.objects[d.id];
  if (obj?.type !== "fault" || (obj.external ?? 0) === 0) return errno("EBADF", "no open fault fd");
  return [...faultDestroyEffects(root, obj.kobj), { type: "iommufd.fault.released", data: d }];
}

/**
 * Destroying a fault object (iommufd_fault_destroy()): every group still
 * waiting — the deliver list, then the response table — is answered
 * IOMMU_PAGE_RESP_INVALID. Cannot fail.
 */
export function faultDestroyEffects(root: IommufdRoot, kobj: number | undefined): Decided {
  const q = kobj === undefined ? undefined : root.iommufd.faults?.[kobj];
  if (q === undefined || kobj === undefined) return [];
  return pendingGroups(q).flatMap((g) => answer(root, kobj, g, IOMMUFD_PAGE_RESP_INVALID));
}

/**
 * Detaching device `devId` at `pasid` from its HWPT
 * (iommufd_hwpt_detach_device / _replace_device →
 * iommufd_auto_response_faults()): the device's groups of that queue that
 * came through this attachment are answered INVALID — for a RID on a
 * nested HWPT of a driver with `user_pasid_table` (the mock, SMMUv3), also
 * those of PASIDs without an attachment of their own (route.ts handlePasid). Cannot fail.
 */
export function faultDetachEffects(root: IommufdRoot, ctxId: number, devId: number, pasid: number): Decided {
  const c = root.iommufd.contexts[ctxId];
  const idev = c?.objects[devId];
  if (c === undefined || idev === undefined) return [];
  const t = targetOf(root.iommufd, c, idev, pasid);
  const q = t === undefined ? undefined : root.iommufd.faults?.[t.fault];
  if (t === undefined || q === undefined) return [];
  return pendingGroups(q)
    .filter((g) => g.devId === devId && handlePasid(root.iommufd, c, idev, g.pasid) === pasid)
    .flatMap((g) => answer(root, t.fault, g, IOMMUFD_PAGE_RESP_INVALID));
}

/** Where a device object's responses go: its driver's unit and RID (the mock: unit 0, RID 0). */
function sourceOf(root: IommufdRoot, ctx: number, idev: IommufdObject): FaultSource {
  const info = deviceOf(root.iommufd, ctx, idev);
  return info === undefined
    ? { driver: "mock", unit: 0, rid: 0 }
    : { driver: info.driver, unit: info.unit, rid: info.rid };
}

/**
 * IOMMU_TEST_OP_TRIGGER_IOPF (selftest.c iommufd_test_trigger_iopf): a
 * one-page group (LAST_PAGE, PASID_VALID when `pasid` ≠ 0) from mock
 * device `devId` reported as iommu_report_device_fault() does. ENOENT for
 * an id that is not a device; a device whose attachment at `pasid` has no
 * fault queue gets the error response (nothing, for the mock) and the op
 * still succeeds, as in Linux.
 */
export function decideTriggerIopf(
  root: IommufdRoot,
  d: { ctx: number; devId: number; pasid: number; grpid: number; perm: number; addr: bigint },
): Decided | Errno {
  const c = getContext(root.iommufd, d.ctx);
  if (isErrno(c)) return c;
  const idev = getObject(c, d.devId, "device");
  if (isErrno(idev)) return idev;
  const t = targetOf(root.iommufd, c, idev, d.pasid);
  if (t === undefined) return [];
  const flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE | (d.pasid !== 0 ? IOMMU_PGFAULT_FLAGS_PASID_VALID : 0);
  return [
    {
      type: "iommufd.fault.reported",
      data: {
        fault: t.fault,
        devId: d.devId,
        source: sourceOf(root, d.ctx, idev),
        pasid: d.pasid,
        grpid: d.grpid,
        page: { addr: d.addr, perm: d.perm, flags },
      },
    },
  ];
}
