/**
 * The selftest's in-kernel accesses (Linux drivers/iommu/iommufd/selftest.c
 * `struct selftest_access`, on drivers/iommu/iommufd/device.c
 * iommufd_access_*): an access object attached to an IOAS, created by
 * IOMMU_TEST_OP_CREATE_ACCESS and living as long as its fd; its "items"
 * are ranges pinned by IOMMU_TEST_OP_ACCESS_PAGES, each with an id from a
 * per-access counter starting at 0.
 *
 * The model keeps one object per access in the context's table (type
 * "access", `kobj` = iopt's access id, `refs` = [its IOAS], held by its
 * "driver" like Linux's extra users reference, so IOMMU_DESTROY answers
 * EBUSY). An item is iopt's access pin with the item's id, so the mock's
 * unmap callback (selftest.c iommufd_test_access_unmap: unpin every item
 * intersecting the range) is iopt's `notifyAccesses`, run by every unmap and
 * IOAS replace.
 */
import { type SubsystemDecideContext, sealEpoch } from "@iommu-sim/eventlog";
import {
  accessPinFrames,
  decideAccessCreate as ioptAccessCreate,
  decideAccessDestroy as ioptAccessDestroy,
  decideAccessPin as ioptAccessPin,
  decideAccessReplaceIoas as ioptAccessReplaceIoas,
  decideAccessUnpin as ioptAccessUnpin,
  decideAccessWrite as ioptAccessWrite,
  lookupPage,
  PAGE_SIZE,
} from "@iommu-sim/iopt";
import { type Errno, errno, isErrno, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES } from "@iommu-sim/uapi";
import { allocObjectId, getContext, getObject } from "../objects";
import type { IommufdRoot, RootEvolve } from "../root";
import type { IommufdObject } from "../state";

type Decided = { type: string; data: unknown }[];
type Ctx = SubsystemDecideContext<IommufdRoot>;
const NO_FAULTS = { step: () => undefined };
const PAGE = BigInt(PAGE_SIZE);

/**
 * The access object `id` of context `ctx`, or EBADFD — what
 * iommufd_access_get() answers for an fd that is not (or no longer) an
 * access fd.
 */
export function accessObject(root: IommufdRoot, ctx: number, id: number): IommufdObject | Errno {
  const o = root.iommufd.contexts[ctx]?.objects[id];
  if (o === undefined || o.type !== "access") return errno("EBADFD", `no access ${id} in context ${ctx}`);
  return o;
}

/**
 * `iommufd.selftest.access_create {ctx, ioasId, flags}`
 * (iommufd_test_create_access → iommufd_access_create +
 * iommufd_access_attach): a new access object attached to IOAS `ioasId`.
 * An access created with MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES has an
 * IOVA alignment of PAGE_SIZE (4 KiB), which joins the IOAS's; otherwise 1.
 * Errors: EBADF context; EOPNOTSUPP unknown flags; ENOMEM fault points
 * `selftest.staccess_alloc`, `iommufd.object_alloc` and iopt's
 * `iopt.access_alloc`; ENOENT no IOAS `ioasId`; EADDRINUSE areas misaligned
 * to the grown alignment.
 * Events: iopt's `iopt.access_created`, then `iommufd.object.created`
 * (type "access", flags = the create flags).
 */
export function decideAccessCreate(
  root: IommufdRoot,
  c: { ctx: number; ioasId: number; flags: number },
  ctx: Ctx,
): Decided | Errno {
  const context = getContext(root.iommufd, c.ctx);
  if (isErrno(context)) return context;
  if ((c.flags & ~MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES) !== 0)
    return errno("EOPNOTSUPP", "unknown MOCK_FLAGS_ACCESS_CREATE_* bits");
  const fail = ctx.step("selftest.staccess_alloc", "ENOMEM");
  if (fail) return fail;
  const id = allocObjectId(context);
  if (isErrno(id)) return id;
  const fail2 = ctx.step("iommufd.object_alloc", "ENOMEM");
  if (fail2) return fail2;
  const ioas = getObject(context, c.ioasId, "ioas");
  if (isErrno(ioas)) return ioas;
  const kobj = root.iommufd.nextKobj;
  const needsPin = (c.flags & MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES) !== 0;
  const created = ioptAccessCreate(
    root,
    { access: kobj, ioas: ioas.kobj!, iovaAlignment: needsPin ? PAGE : 1n },
    ctx,
  );
  if (isErrno(created)) return created;
  return [
    ...created,
    {
      type: "iommufd.object.created",
      data: { ctx: c.ctx, id, type: "access", kobj, refs: [c.ioasId], external: 1, flags: c.flags },
    },
  ];
}

/**
 * What destroying access object `obj` does besides leaving the table
 * (iommufd_test_staccess_release: unmap callback over everything, then
 * iommufd_access_destroy): every item unpinned, the access detached from
 * its IOAS. Cannot fail.
 */
export function accessDestroyEffects(root: IommufdRoot, obj: IommufdObject): Decided | Errno {
  const r = ioptAccessDestroy(root, { access: obj.kobj! }, { ...NO_FAULTS, root });
  return isErrno(r) ? r : [...r];
}

/**
 * `iommufd.selftest.access_destroy {ctx, id}`: the access fd's release.
 * A release cannot fail: when the context or the access is already gone
 * (closed with the context) there is nothing to do and no events.
 */
export function decideAccessRelease(root: IommufdRoot, c: { ctx: number; id: number }): Decided | Errno {
  const o = accessObject(root, c.ctx, c.id);
  if (isErrno(o)) return [];
  const effects = accessDestroyEffects(root, o);
  if (isErrno(effects)) return effects;
  return [...effects, { type: "iommufd.object.destroyed", data: { ctx: c.ctx, id: c.id, type: "access" } }];
}

/**
 * `iommufd.selftest.access_replace_ioas {ctx, id, ioasId}`
 * (iommufd_access_replace → iommufd_access_change_ioas): every item is
 * unpinned (the unmap callback over the whole range), the access moves to
 * IOAS `ioasId`; the same IOAS changes nothing.
 * Errors: EBADFD no access; ENOENT no IOAS `ioasId` in the access's
 * context; EADDRINUSE alignment; ENOMEM `iopt.access_attach`.
 */
export function decideAccessReplaceIoas(
  root: IommufdRoot,
  c: { ctx: number; id: number; ioasId: number },
  ctx: Ctx,
): Decided | Errno {
  const o = accessObject(root, c.ctx, c.id);
  if (isErrno(o)) return o;
  const ioas = getObject(root.iommufd.contexts[c.ctx]!, c.ioasId, "ioas");
  if (isErrno(ioas)) return ioas;
  if (o.refs[0] === c.ioasId) return [];
  const moved = ioptAccessReplaceIoas(root, { access: o.kobj!, ioas: ioas.kobj! }, ctx);
  if (isErrno(moved)) return moved;
  return [...moved, { type: "iommufd.object.refs.set", data: { ctx: c.ctx, id: c.id, refs: [c.ioasId] } }];
}

/**
 * iommufd_test_check_pages(): the pinned frames must be the frames behind
 * the caller's `uptr` (moved back to the page start of `iova`), page by
 * page. EFAULT where the user range is not mapped; EBADE on a mismatch.
 */
function checkPages(
  root: IommufdRoot,
  pid: number,
  frames: readonly number[],
  uptr: bigint,
  iova: bigint,
): Errno | undefined {
  const start = uptr - (iova % PAGE);
  for (let k = 0; k < frames.length; k++) {
    const va = start + BigInt(k) * PAGE;
    if (va < 0n) return errno("EFAULT", "uptr below the page offset of iova");
    const pfn = lookupPage(root.mm, pid, Number(va / PAGE));
    if (isErrno(pfn)) return pfn;
    if (pfn !== frames[k]) return errno("EBADE", `page ${k} is not the user's page at 0x${va.toString(16)}`);
  }
  return undefined;
}

/**
 * `iommufd.selftest.access_pages {ctx, id, iova, length, write, uptr}`
 * (iommufd_test_access_pages → iommufd_access_pin_pages): pin the pages
 * under [iova, iova + length − 1] as a new item whose id is the access's
 * next (from 0). With `uptr` ≠ 0 the pinned pages must be the caller's
 * pages at `uptr` (process `pid`; absent: the context's opener).
 * Errors: EBADFD no access; EOPNOTSUPP the access was created without
 * MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES; ENOMEM fault points
 * `selftest.access_pages_alloc`, iopt's pinning ones and
 * `selftest.access_item_alloc`; iopt's access checks (EINVAL, EOVERFLOW,
 * EPERM, ENOENT); iopt's pin errors (EPERM read-only pages, EFAULT);
 * `checkPages`' (EFAULT, EBADE).
 * Events: iopt's pin events, then `iommufd.selftest.access_item_added`.
 */
export function decideAccessPages(
  root: IommufdRoot,
  c: { ctx: number; id: number; iova: bigint; length: bigint; write: boolean; uptr: bigint; pid?: number },
  ctx: Ctx,
  evolve: RootEvolve,
): Decided | Errno {
  const o = accessObject(root, c.ctx, c.id);
  if (isErrno(o)) return o;
  if (((o.flags ?? 0) & MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES) === 0)
    return errno("EOPNOTSUPP", "the access was created without NEEDS_PIN_PAGES");
  const fail = ctx.step("selftest.access_pages_alloc", "ENOMEM");
  if (fail) return fail;
  const item = o.nextItem ?? 0;
  const pinned = ioptAccessPin(
    root,
    { access: o.kobj!, pin: item, iova: c.iova, length: c.length, write: c.write },
    ctx,
  );
  if (isErrno(pinned)) return pinned;
  if (c.uptr !== 0n) {
    // The frames are known once the pin (and the faults it takes) is applied.
    sealEpoch();
    let after = root;
    for (const e of pinned) after = evolve(after, e);
    const frames = accessPinFrames(after, o.kobj!, item);
    if (isErrno(frames)) return frames;
    // iommufd_test_check_pages() looks the pages up in current->mm: the caller's.
    const pid = c.pid ?? root.iommufd.contexts[c.ctx]!.pid;
    const mismatch = checkPages(after, pid, frames, c.uptr, c.iova);
    if (mismatch) return mismatch;
  }
  const fail2 = ctx.step("selftest.access_item_alloc", "ENOMEM");
  if (fail2) return fail2;
  return [...pinned, { type: "iommufd.selftest.access_item_added", data: { ctx: c.ctx, id: c.id, item } }];
}

/**
 * `iommufd.selftest.access_pages_destroy {ctx, id, item}`
 * (iommufd_test_access_item_destroy → iommufd_access_unpin_pages).
 * Errors: EBADFD no access; ENOENT no such item (never pinned, destroyed,
 * or unpinned by an unmap or IOAS replace).
 */
export function decideAccessPagesDestroy(
  root: IommufdRoot,
  c: { ctx: number; id: number; item: number },
  ctx: Ctx,
): Decided | Errno {
  const o = accessObject(root, c.ctx, c.id);
  if (isErrno(o)) return o;
  if (root.iopt.accesses.get(o.kobj!)?.pins.has(c.item) !== true)
    return errno("ENOENT", `no item ${c.item} in access ${c.id}`);
  const r = ioptAccessUnpin(root, { access: o.kobj!, pin: c.item }, ctx);
  return isErrno(r) ? r : [...r];
}

/**
 * `iommufd.selftest.access_write {ctx, id, iova, bytes}` (iommufd_test_access_rw
 * with MOCK_ACCESS_RW_WRITE → iommufd_access_rw): store `bytes` at `iova`
 * through the access's IOAS — into pinned frames, or the mapping process's
 * pages (faulted in). Any alignment.
 * Errors: EBADFD no access; ENOMEM fault point `selftest.access_rw_buf`
 * (the bounce buffer) and iopt's `iopt.access_rw_fault`;
 * iopt's access checks (EINVAL zero length, EOVERFLOW, EPERM, ENOENT);
 * EPERM read-only pages; EFAULT.
 * Events: iopt's (`mm.faulted`, `mm.phys.written`).
 */
export function decideAccessWrite(
  root: IommufdRoot,
  c: { ctx: number; id: number; iova: bigint; bytes: Uint8Array },
  ctx: Ctx,
): Decided | Errno {
  const o = accessObject(root, c.ctx, c.id);
  if (isErrno(o)) return o;
  const fail = ctx.step("selftest.access_rw_buf", "ENOMEM");
  if (fail) return fail;
  const r = ioptAccessWrite(root, { access: o.kobj!, iova: c.iova, bytes: c.bytes }, ctx);
  return isErrno(r) ? r : [...r];
}
