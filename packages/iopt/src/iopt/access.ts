/**
 * In-kernel accesses (struct iommufd_access, e.g. VFIO mdevs and the
 * selftest's mock access): attach to an IOAS, pin pages by IOVA, read and
 * write through IOVA. Linux drivers/iommu/iommufd/device.c
 * (iommufd_access_create/attach/replace/destroy, iommufd_access_pin_pages,
 * iommufd_access_unpin_pages, iommufd_access_rw) and pages.c
 * (iopt_area_add_access, iopt_pages_rw_access).
 */
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import {
  faultEvents,
  hasFaults,
  lookupObjectPage,
  lookupPage,
  newFaultPlan,
  type PfnRun,
  pushRun,
} from "../mm/fault";
import { PAGE_SIZE, TASK_SIZE } from "../mm/state";
import { checkAreasAligned, computeAlignment, isPowerOfTwo } from "./alignment";
import { framesOf } from "./intervals";
import { type AreaCheck, getPages } from "./map";
import type { DataOf, IoptDecided, IoptRoot } from "./messages";
import { type Access, byteIndexRange, IOMMU_READ, IOMMU_WRITE } from "./state";
import { type IoptCtx, PinTxn, pinFrames } from "./txn";

const PAGE = BigInt(PAGE_SIZE);

function releaseAll(txn: PinTxn, access: Access): void {
  for (const [pinId, pin] of access.pins) {
    txn.removePin(
      access.id,
      pinId,
      pin.areas.map((a) => a.pages),
    );
    txn.emit({ type: "iopt.access_unpinned", data: { access: access.id, pin: pinId } });
  }
}

function alignmentErr(root: IoptRoot, ioasId: number, accessAlign: number): Errno | undefined {
  const ioas = root.iopt.ioas.get(ioasId)!;
  const others = ioas.accesses.map((a) => root.iopt.accesses.get(a)!.iovaAlignment);
  const align = computeAlignment(ioas.disableLargePages, ioas.domains, [...others, accessAlign]);
  return align > ioas.iovaAlignment ? checkAreasAligned(ioas, align) : undefined;
}

/**
 * Create an access (caller-chosen id) attached to `ioas`; its alignment
 * (default 1 byte) joins the IOAS's. Errors: EEXIST live id; ENOENT no
 * IOAS; EINVAL alignment not a power of two ≤ PAGE_SIZE; EADDRINUSE areas
 * misaligned to the grown alignment.
 */
export function decideAccessCreate(
  root: IoptRoot,
  c: DataOf<"iopt.access.create">,
  ctx: IoptCtx,
): IoptDecided[] | Errno {
  if (root.iopt.accesses.has(c.access)) return errno("EEXIST", `access ${c.access} exists`);
  if (!root.iopt.ioas.has(c.ioas)) return errno("ENOENT", `no IOAS ${c.ioas}`);
  const align = Number(c.iovaAlignment ?? 1n);
  if (!isPowerOfTwo(align) || align > PAGE_SIZE) return errno("EINVAL", "bad access alignment");
  const a = alignmentErr(root, c.ioas, align);
  if (a) return a;
  const e = ctx.step("iopt.access_alloc");
  if (e) return e;
  const data = { access: c.access, ioas: c.ioas, iovaAlignment: BigInt(align) };
  return [{ type: "iopt.access_created", data: c.internal === true ? { ...data, internal: true } : data }];
}

/** Destroy an access, releasing its pins first. Errors: ENOENT. */
export function decideAccessDestroy(
  root: IoptRoot,
  c: DataOf<"iopt.access.destroy">,
  ctx: IoptCtx,
): IoptDecided[] | Errno {
  const access = root.iopt.accesses.get(c.access);
  if (access === undefined) return errno("ENOENT", `no access ${c.access}`);
  const txn = new PinTxn(root, ctx);
  releaseAll(txn, access);
  const r = txn.reconcile();
  if (r) return r;
  txn.destroyOrphans([...access.pins.values()].flatMap((p) => p.areas.map((a) => a.pages)));
  txn.emit({ type: "iopt.access_destroyed", data: { access: c.access } });
  return txn.finish();
}

/**
 * iommufd_access_replace(): move the access to another IOAS. Its pins in the
 * old IOAS are released first (the unmap notification of the whole range).
 * Errors: ENOENT unknown access or IOAS; EADDRINUSE alignment conflict.
 */
export function decideAccessReplaceIoas(
  root: IoptRoot,
  c: DataOf<"iopt.access.replace_ioas">,
  ctx: IoptCtx,
): IoptDecided[] | Errno {
  const access = root.iopt.accesses.get(c.access);
  if (access === undefined) return errno("ENOENT", `no access ${c.access}`);
  if (!root.iopt.ioas.has(c.ioas)) return errno("ENOENT", `no IOAS ${c.ioas}`);
  if (access.ioas === c.ioas) return [];
  const a = alignmentErr(root, c.ioas, access.iovaAlignment);
  if (a) return a;
  const e = ctx.step("iopt.access_attach");
  if (e) return e;
  const txn = new PinTxn(root, ctx);
  releaseAll(txn, access);
  const r = txn.reconcile();
  if (r) return r;
  txn.destroyOrphans([...access.pins.values()].flatMap((p) => p.areas.map((x) => x.pages)));
  txn.emit({ type: "iopt.access_ioas_replaced", data: { access: c.access, ioas: c.ioas } });
  return txn.finish();
}

/**
 * The per-area checks of iommufd_access_pin_pages() / iommufd_access_rw()
 * (Linux device.c), in IOVA order: when `aligned` (pin), EINVAL unless the
 * range starts on a page boundary of the area's pages and leaves an area
 * only where its last page ends (iopt_area_contig_is_aligned); EPERM when
 * the area lacks IOMMU_WRITE (`write`) or IOMMU_READ (check_area_prot).
 */
function accessAreaCheck(write: boolean, aligned: boolean): AreaCheck {
  return (a, cur, done) => {
    if (aligned) {
      const startByte = a.startByte + (cur - a.iova);
      const lastByte = a.startByte + (a.last - a.iova);
      if (startByte % PAGE !== 0n || (!done && lastByte % PAGE !== PAGE - 1n))
        return errno("EINVAL", "the range is not page aligned within the area's pages");
    }
    if ((a.prot & (write ? IOMMU_WRITE : IOMMU_READ)) === 0)
      return errno("EPERM", write ? "area is not writable" : "area is not readable");
    return undefined;
  };
}

/**
 * The areas of the access's IOAS covering [iova, iova+length), with the
 * access checks (`accessAreaCheck`); a write also needs pages mapped
 * writable. Errors: EINVAL zero length or misaligned pin, EOVERFLOW wrap,
 * EPERM, ENOENT a hole.
 */
function coveringSlices(
  root: IoptRoot,
  access: Access,
  iova: bigint,
  length: bigint,
  write: boolean,
  aligned: boolean,
) {
  const ioas = root.iopt.ioas.get(access.ioas)!;
  const slices = getPages(ioas, iova, length, accessAreaCheck(write, aligned));
  if (isErrno(slices) || !write) return slices;
  for (const s of slices)
    if (!root.iopt.pages.get(s.pages)!.writable) return errno("EPERM", "pages are not writable");
  return slices;
}

/**
 * iommufd_access_pin_pages(): pin the pages behind [iova, iova+length) for
 * the access as pin `pin` (the caller's id, like the selftest's
 * access_pages id). Pages already pinned (by a domain or another pin) are
 * not pinned again. `accessPinFrames` returns the frames.
 * Errors: ENOENT unknown access or an IOVA not mapped; EEXIST pin id in
 * use; EINVAL zero length or a range not page aligned within the areas'
 * pages; EOVERFLOW wrap; EPERM an area without IOMMU_WRITE (`write`) or
 * without IOMMU_READ (read); EFAULT/ENOMEM pinning.
 */
export function decideAccessPin(
  root: IoptRoot,
  c: DataOf<"iopt.access.pin">,
  ctx: IoptCtx,
): IoptDecided[] | Errno {
  const access = root.iopt.accesses.get(c.access);
  if (access === undefined) return errno("ENOENT", `no access ${c.access}`);
  if (access.pins.has(c.pin)) return errno("EEXIST", `pin ${c.pin} exists`);
  const slices = coveringSlices(root, access, c.iova, c.length, c.write, true);
  if (isErrno(slices)) return slices;
  const txn = new PinTxn(root, ctx);
  const areas = [];
  let iova = c.iova;
  for (const s of slices) {
    const { index, count } = byteIndexRange(s.startByte, s.length);
    txn.addHold({ pages: s.pages, access: c.access, pin: c.pin, index, count });
    areas.push({ pages: s.pages, index: BigInt(index), count: BigInt(count), iova });
    iova += s.length;
  }
  const r = txn.reconcile();
  if (r) return r;
  txn.emit({
    type: "iopt.access_pinned",
    data: { access: c.access, pin: c.pin, iova: c.iova, length: c.length, areas },
  });
  return txn.finish();
}

/** iommufd_access_unpin_pages(): release pin `pin`. Errors: ENOENT unknown access or pin. */
export function decideAccessUnpin(
  root: IoptRoot,
  c: DataOf<"iopt.access.unpin">,
  ctx: IoptCtx,
): IoptDecided[] | Errno {
  const access = root.iopt.accesses.get(c.access);
  if (access === undefined) return errno("ENOENT", `no access ${c.access}`);
  const pin = access.pins.get(c.pin);
  if (pin === undefined) return errno("ENOENT", `no pin ${c.pin}`);
  const txn = new PinTxn(root, ctx);
  txn.removePin(
    c.access,
    c.pin,
    pin.areas.map((a) => a.pages),
  );
  txn.emit({ type: "iopt.access_unpinned", data: { access: c.access, pin: c.pin } });
  const r = txn.reconcile();
  if (r) return r;
  txn.destroyOrphans(pin.areas.map((a) => a.pages));
  return txn.finish();
}

/**
 * The frames an access pin holds, one PFN per 4 KiB page in IOVA order
 * (the `struct page **` iommufd_access_pin_pages() fills).
 * Errors: ENOENT unknown access or pin.
 */
export function accessPinFrames(root: IoptRoot, accessId: number, pinId: number): number[] | Errno {
  const pin = root.iopt.accesses.get(accessId)?.pins.get(pinId);
  if (pin === undefined) return errno("ENOENT", `no pin ${pinId} of access ${accessId}`);
  const out: number[] = [];
  for (const a of pin.areas) {
    const runs = framesOf(root.iopt.pages.get(a.pages)!.pinned, Number(a.index), Number(a.count))!;
    for (const r of runs) for (let k = 0; k < r.count; k++) out.push(r.pfn + k);
  }
  return out;
}

/** Physical address runs (byte address, length) of `slices`, faulting through `plan` when `plan` is given. */
function physRuns(
  root: IoptRoot,
  slices: readonly { pages: number; startByte: bigint; length: bigint }[],
  plan: ReturnType<typeof newFaultPlan> | undefined,
): { pa: number; length: number }[] | Errno {
  const out: { pa: number; length: number }[] = [];
  for (const s of slices) {
    const pages = root.iopt.pages.get(s.pages)!;
    const { index, count } = byteIndexRange(s.startByte, s.length);
    let frames: (PfnRun | { pfn: -1; count: number })[] | undefined = framesOf(pages.pinned, index, count);
    if (frames === undefined) {
      if (plan !== undefined) {
        const r = pinFrames(root, pages, index, count, plan);
        if (isErrno(r)) return r;
        frames = r;
      } else {
        frames = [];
        const first = Number((pages.uptr + BigInt(index) * PAGE) / PAGE);
        if (pages.file === undefined && (first + count) * PAGE_SIZE > TASK_SIZE)
          return errno("EFAULT", "pages outside user space");
        for (let k = 0; k < count; k++) {
          const p =
            pages.file === undefined
              ? lookupPage(root.mm, pages.pid, first + k)
              : lookupObjectPage(root.mm, pages.file, first + k);
          if (isErrno(p)) return p;
          if (p < 0) frames.push({ pfn: -1, count: 1 });
          else pushRun(frames as PfnRun[], p, 1);
        }
      }
    }
    let skip = Number(s.startByte % PAGE);
    let left = Number(s.length);
    for (const f of frames) {
      for (let k = 0; k < f.count && left > 0; k++) {
        const n = Math.min(PAGE_SIZE - skip, left);
        out.push({ pa: f.pfn < 0 ? -1 : (f.pfn + k) * PAGE_SIZE + skip, length: n });
        left -= n;
        skip = 0;
      }
    }
  }
  return out;
}

/**
 * iommufd_access_rw() read: `length` bytes at `iova` through the access's
 * IOAS, from pinned frames or, for unpinned pages, the mapping process's
 * memory (zeros where never faulted in). Unaligned ranges are fine.
 * Errors: ENOENT unknown access or an unmapped IOVA; EINVAL zero length;
 * EPERM an area without IOMMU_READ; EFAULT the mapping process is gone and
 * the pages are not pinned.
 */
export function accessRead(
  root: IoptRoot,
  accessId: number,
  iova: bigint,
  length: number,
): Uint8Array | Errno {
  const access = root.iopt.accesses.get(accessId);
  if (access === undefined) return errno("ENOENT", `no access ${accessId}`);
  const slices = coveringSlices(root, access, iova, BigInt(length), false, false);
  if (isErrno(slices)) return slices;
  const runs = physRuns(root, slices, undefined);
  if (isErrno(runs)) return runs;
  const out = new Uint8Array(length);
  let at = 0;
  for (const r of runs) {
    if (r.pa >= 0) out.set(root.mm.ram.read(r.pa, r.length), at);
    at += r.length;
  }
  return out;
}

/**
 * iommufd_access_rw(IOMMUFD_ACCESS_RW_WRITE): store `bytes` at `iova`
 * through the access's IOAS: `mm.phys.written` events (plus `mm.faulted`
 * for unpinned pages faulted in). Errors: as `accessRead`, plus EPERM for a
 * read-only area.
 */
export function decideAccessWrite(
  root: IoptRoot,
  c: DataOf<"iopt.access.write">,
  ctx: IoptCtx,
): IoptDecided[] | Errno {
  const access = root.iopt.accesses.get(c.access);
  if (access === undefined) return errno("ENOENT", `no access ${c.access}`);
  const slices = coveringSlices(root, access, c.iova, BigInt(c.bytes.length), true, false);
  if (isErrno(slices)) return slices;
  const plan = newFaultPlan(root.mm);
  const runs = physRuns(root, slices, plan);
  if (isErrno(runs)) return runs;
  if (hasFaults(plan)) {
    const e = ctx.step("iopt.access_rw_fault");
    if (e) return e;
  }
  const events: IoptDecided[] = faultEvents(plan);
  let at = 0;
  for (const r of runs) {
    events.push({
      type: "mm.phys.written",
      data: { pa: BigInt(r.pa), bytes: c.bytes.slice(at, at + r.length) },
    });
    at += r.length;
  }
  return events;
}
