/**
 * IOAS lifetime. Linux ioas.c iommufd_ioas_alloc(), iommufd_ioas_destroy().
 */
import { type Errno, errno } from "@iommu-sim/uapi";
import type { DataOf, IoptDecided, IoptRoot } from "./messages";
import { U64_MAX } from "./state";
import type { IoptCtx } from "./txn";
import { decideIoasUnmap } from "./unmap";

/** IOMMU_IOAS_ALLOC with a caller-chosen id. Errors: EEXIST a live id. */
export function decideIoasCreate(
  root: IoptRoot,
  c: DataOf<"ioas.create">,
  ctx: IoptCtx,
): IoptDecided[] | Errno {
  if (root.iopt.ioas.has(c.ioas)) return errno("EEXIST", `IOAS ${c.ioas} exists`);
  const e = ctx.step("iopt.ioas_alloc");
  if (e) return e;
  return [{ type: "ioas.created", data: { ioas: c.ioas } }];
}

/**
 * Destroy an IOAS: unmaps everything, then it is gone. Errors: ENOENT no
 * IOAS; EBUSY while a domain or an access is attached (iommufd holds a
 * reference from each HWPT and access).
 */
export function decideIoasDestroy(
  root: IoptRoot,
  c: DataOf<"ioas.destroy">,
  ctx: IoptCtx,
): IoptDecided[] | Errno {
  const ioas = root.iopt.ioas.get(c.ioas);
  if (ioas === undefined) return errno("ENOENT", `no IOAS ${c.ioas}`);
  if (ioas.domains.length > 0 || ioas.accesses.length > 0) return errno("EBUSY", "IOAS in use");
  const unmap = decideIoasUnmap(root, { ioas: c.ioas, iova: 0n, length: U64_MAX }, ctx);
  if (!Array.isArray(unmap)) return unmap as Errno;
  return [...unmap, { type: "ioas.destroyed", data: { ioas: c.ioas } }];
}
