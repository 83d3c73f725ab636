/**
 * Deciders of the vEVENTQ commands (Linux drivers/iommu/iommufd/eventq.c
 * `iommufd_veventq_alloc()`, `iommufd_veventq_fops_read()`,
 * `iommufd_eventq_fops_release()`; driver.c `iommufd_viommu_report_event()`).
 */
import type { DecideContext } from "@iommu-sim/eventlog";
import {
  type Errno,
  errno,
  IOMMU_VEVENTQ_FLAG_LOST_EVENTS,
  IOMMU_VEVENTQ_TYPE_DEFAULT,
  isErrno,
} from "@iommu-sim/uapi";
import { allocObjectId, getContext, getObject } from "../objects";
import type { IommufdRoot } from "../root";
import { pendingRecords, recordsThatFit, type VeventQueue, veventqFull } from "./queue";

type Decided = { type: string; data: unknown }[];

/** `iommufd.veventq.alloc`'s data (see the vocabulary). */
export interface VeventqAllocRequest {
  readonly ctx: number;
  readonly flags: number;
  readonly viommuId: number;
  readonly type: number;
  readonly depth: number;
}

/** The vEVENTQ of type `type` on vIOMMU object `viommuId` of context `ctx` (`iommufd_viommu_find_veventq()`). */
export function findVeventq(
  root: IommufdRoot,
  ctx: number,
  viommuId: number,
  type: number,
): { kobj: number; queue: VeventQueue } | undefined {
  const all = root.iommufd.veventqs ?? {};
  for (const k in all) {
    const q = all[k]!;
    if (q.ctx === ctx && q.viommu === viommuId && q.type === type) return { kobj: Number(k), queue: q };
  }
  return undefined;
}

/**
 * IOMMU_VEVENTQ_ALLOC. Errors, in Linux's order: EBADF context;
 * EOPNOTSUPP `flags` ≠ 0 (and `__reserved` ≠ 0, checked by the ioctl's
 * copy-in) or type IOMMU_VEVENTQ_TYPE_DEFAULT (0); EINVAL depth 0; ENOENT
 * `viommuId` is not a vIOMMU (`iommufd_get_viommu()`); EEXIST the vIOMMU
 * has a vEVENTQ of this type (one per type); ENOSPC no object id; ENOMEM
 * at `iommufd.veventq_alloc` (the object) and `iommufd.veventq_getfile`
 * (anon_inode_getfile). Any other type is accepted, as Linux's core does
 * (only a driver reporting that type ever fills the queue).
 * Events: `iommufd.object.created` (type `veventq`, refs [viommuId], a new
 * kobj, `external` 1 for the fd, `veventqType`, `depth`).
 */
export function decideVeventqAlloc(
  root: IommufdRoot,
  req: VeventqAllocRequest,
  ctx: DecideContext,
): Decided | Errno {
  const c = getContext(root.iommufd, req.ctx);
  if (isErrno(c)) return c;
  if (req.flags !== 0) return errno("EOPNOTSUPP", "iommu_veventq_alloc.flags must be 0");
  if (req.type === IOMMU_VEVENTQ_TYPE_DEFAULT)
    return errno("EOPNOTSUPP", "IOMMU_VEVENTQ_TYPE_DEFAULT is reserved");
  if (req.depth === 0) return errno("EINVAL", "veventq_depth must be at least 1");
  const viommu = getObject(c, req.viommuId, "viommu");
  if (isErrno(viommu)) return viommu;
  const held = findVeventq(root, req.ctx, viommu.id, req.type);
  if (held !== undefined)
    return errno(
      "EEXIST",
      `vIOMMU ${viommu.id} has vEVENTQ ${held.queue.id} of type 0x${req.type.toString(16)}`,
    );
  const id = allocObjectId(c);
  if (isErrno(id)) return id;
  const fail = ctx.step("iommufd.veventq_alloc", "ENOMEM") ?? ctx.step("iommufd.veventq_getfile", "ENOMEM");
  if (fail) return fail;
  return [
    {
      type: "iommufd.object.created",
      data: {
        ctx: req.ctx,
        id,
        type: "veventq",
        kobj: root.iommufd.nextKobj,
        refs: [viommu.id],
        external: 1,
        veventqType: req.type,
        depth: req.depth,
      },
    },
  ];
}

/** The queue behind vEVENTQ object `id` of context `ctx`, with its kobj: EBADF when the context or the object is gone. */
export function veventQueue(
  root: IommufdRoot,
  ctx: number,
  id: number,
): { kobj: number; queue: VeventQueue } | Errno {
  const obj = root.iommufd.contexts[ctx]?.objects[id];
  const kobj = obj?.type === "veventq" ? obj.kobj : undefined;
  const queue = kobj === undefined ? undefined : root.iommufd.veventqs?.[kobj];
  if (kobj === undefined || queue === undefined) return errno("EBADF", `no vEVENTQ ${ctx}:${id}`);
  return { kobj, queue };
}

/**
 * read(2) of `count` bytes (`iommufd_veventq_fops_read()`): whole records
 * from the head while they fit — an 8-byte `struct iommufd_vevent_header`
 * each, followed by the vEVENT's data (none after the lost-events header).
 * Nothing fits, or nothing waits → no events (read returns 0). Reading the
 * lost-events header copies it first (`iommufd_veventq_deliver_fetch()`'s
 * GFP_ATOMIC kzalloc, fault point `iommufd.vevent_lost_copy`): when that
 * fails the read stops before it, and fails ENOMEM if it read nothing.
 * Errors: EBADF (no such queue).
 */
export function decideVeventqRead(
  root: IommufdRoot,
  d: { ctx: number; id: number; count: number },
  ctx: DecideContext,
): Decided | Errno {
  const found = veventQueue(root, d.ctx, d.id);
  if (isErrno(found)) return found;
  const { kobj, queue } = found;
  let n = recordsThatFit(pendingRecords(queue, IOMMU_VEVENTQ_FLAG_LOST_EVENTS), d.count);
  if (n > queue.deliver.length) {
    const fail = ctx.step("iommufd.vevent_lost_copy", "ENOMEM");
    if (fail) {
      if (queue.deliver.length === 0) return fail;
      n = queue.deliver.length;
    }
  }
  if (n === 0) return [];
  return [{ type: "iommufd.veventq.delivered", data: { veventq: kobj, records: n } }];
}

/**
 * The vEVENTQ fd is closed (`iommufd_eventq_fops_release()`): its users
 * reference drops; the object and its queue stay until IOMMU_DESTROY or
 * the context's close. EBADF when already released or gone.
 */
export function decideVeventqRelease(root: IommufdRoot, d: { ctx: number; id: number }): Decided | Errno {
  const obj = root.iommufd.contexts[d.ctx]?.objects[d.id];
  if (obj?.type !== "veventq" || (obj.external ?? 0) === 0) return errno("EBADF", "no open vEVENTQ fd");
  return [{ type: "iommufd.veventq.released", data: d }];
}

/**
 * `iommufd_viommu_report_event(viommu, type, data)`: EOPNOTSUPP when the
 * vIOMMU has no vEVENTQ of `type`; a full queue (depth vEVENTs waiting)
 * loses the vEVENT (`iommufd.vevent.lost`: the lost-events header moves to
 * the tail); else ENOMEM at fault point `iommufd.vevent_alloc` (the
 * GFP_ATOMIC kmalloc of the record — Linux then also queues the
 * lost-events header, which an all-or-nothing command cannot do while
 * failing: the model leaves nothing) and the vEVENT joins the queue
 * (`iommufd.vevent.reported`).
 */
export function reportVevent(
  root: IommufdRoot,
  ctxId: number,
  viommuId: number,
  type: number,
  data: Uint8Array,
  ctx: DecideContext,
): Decided | Errno {
  const found = findVeventq(root, ctxId, viommuId, type);
  if (found === undefined)
    return errno("EOPNOTSUPP", `vIOMMU ${viommuId} has no vEVENTQ of type 0x${type.toString(16)}`);
  if (veventqFull(found.queue)) return [{ type: "iommufd.vevent.lost", data: { veventq: found.kobj } }];
  const fail = ctx.step("iommufd.vevent_alloc", "ENOMEM");
  if (fail) return fail;
  return [{ type: "iommufd.vevent.reported", data: { veventq: found.kobj, data } }];
}
