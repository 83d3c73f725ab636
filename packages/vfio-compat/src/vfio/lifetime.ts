/**
 * How long an iommufd context lives when VFIO holds it (Linux
 * drivers/iommu/iommufd/main.c iommufd_ctx_get()/iommufd_ctx_put(): a
 * group's container — group->iommufd — and every bound device — its
 * iommufd_device's ictx — hold a reference on the context's file, so
 * iommufd_fops_release() runs only when the program's last fd is closed
 * AND the last holder let go).
 */
import { decideClose, type RootEvolve } from "@iommu-sim/iommufd";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import type { Decided } from "./messages";
import { Sequence } from "./sequence";
import type { VfioRoot } from "./state";

/** Whether a group (as container) or a device file (bound) holds context `ctx`. */
export function heldByVfio(root: VfioRoot, ctx: number): boolean {
  for (const k in root.vfio.groups) if (root.vfio.groups[k]!.ctx === ctx) return true;
  for (const k in root.vfio.files) if (root.vfio.files[k]!.ctx === ctx) return true;
  return false;
}

/**
 * `vfio.iommufd.release {ctx}`: the program's last fd of the context's
 * file closed. Held by VFIO → `vfio.iommufd.released {ctx}` (it closes
 * later); else iommufd's close at once (every object destroyed leaf first,
 * `iommufd.closed`). EBADF when the context is not open or released already.
 */
export function decideIommufdRelease(root: VfioRoot, ctx: number, evolve: RootEvolve): Decided | Errno {
  if (root.iommufd.contexts[ctx] === undefined || root.vfio.released[ctx] === true)
    return errno("EBADF", `context ${ctx} is not open`);
  if (heldByVfio(root, ctx)) return [{ type: "vfio.iommufd.released", data: { ctx } }];
  return decideClose(root, ctx, evolve);
}

/**
 * `events` (the vfio operation's), followed by the close of every released
 * context that no group or device file holds any more once they apply —
 * the last iommufd_ctx_put() releasing the file.
 */
export function withReleases(root: VfioRoot, events: Decided | Errno, evolve: RootEvolve): Decided | Errno {
  if (isErrno(events)) return events;
  const pending = Object.keys(root.vfio.released).map(Number);
  if (pending.length === 0) return events;
  const seq = new Sequence(root, evolve);
  seq.add(events);
  for (const ctx of pending) {
    if (heldByVfio(seq.root, ctx) || seq.root.iommufd.contexts[ctx] === undefined) continue;
    const e = seq.add(decideClose(seq.root, ctx, evolve));
    if (e) return e;
  }
  return seq.events;
}
