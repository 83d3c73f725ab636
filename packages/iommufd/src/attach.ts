/**
 * Where a device attach lands (Linux device.c iommufd_device_change_pt):
 * a paging HWPT named directly, or an IOAS — then an existing auto-domain
 * HWPT on it (iommufd_device_auto_get_domain reuses one the device can
 * attach to) or a new auto-domain HWPT.
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import { autoDomainOn, decideHwptPagingAlloc } from "./hwpt";
import { allocObjectId } from "./objects";
import type { IommufdRoot } from "./root";
import type { IommufdContext } from "./state";

type Decided = { type: string; data: unknown }[];

/** The HWPT a device attaches to, and the events that create it if new. */
export interface AttachTarget {
  readonly hwptId: number;
  readonly events: Decided;
}

/**
 * Resolve `ptId` of context `c` for an attach. Errors: ENOENT no object;
 * EINVAL an object that is neither an IOAS nor a (paging or nested) HWPT; a new HWPT's
 * errors. `taken` are ids the same command already chose; `kobj` is the
 * global id a new domain gets.
 */
export function resolveAttachTarget(
  root: IommufdRoot,
  c: IommufdContext,
  ptId: number,
  taken: readonly number[],
  kobj: number,
  ctx: SubsystemDecideContext<IommufdRoot>,
): AttachTarget | Errno {
  const pt = c.objects[ptId];
  if (pt === undefined) return errno("ENOENT", `no object ${ptId}`);
  if (pt.type === "hwpt_paging" || pt.type === "hwpt_nested") return { hwptId: pt.id, events: [] };
  if (pt.type !== "ioas") return errno("EINVAL", `object ${ptId} is a ${pt.type}`);
  const reuse = autoDomainOn(root, c, pt.id);
  if (reuse !== undefined) return { hwptId: reuse.id, events: [] };
  const hwptId = allocObjectId(c, taken);
  if (isErrno(hwptId)) return hwptId;
  const events = decideHwptPagingAlloc(
    root,
    c.id,
    // Auto domains are allocated with flags 0 (device.c iommufd_device_auto_get_domain).
    { hwptId, ioasId: pt.id, kobj, flags: 0, autoDomain: true },
    ctx,
  );
  return isErrno(events) ? events : { hwptId, events };
}
