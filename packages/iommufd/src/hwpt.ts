/**
 * Paging HW page tables (Linux hw_pagetable.c iommufd_hwpt_paging_alloc,
 * iommufd_hwpt_paging_destroy): a domain of the device's IOMMU driver,
 * attached to an IOAS so that it maps every area (iopt_table_add_domain).
 *
 * Drivers so far: the selftest mock (iopt's mock domain: 2 KiB IO pages,
 * aperture [2^24, 2^31 − 1]).
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import { decideAttachDomain, decideDetachDomain, mockDomainDescriptor } from "@iommu-sim/iopt";
import { type Errno, isErrno } from "@iommu-sim/uapi";
import type { IommufdRoot } from "./root";
import type { IommufdContext, IommufdObject } from "./state";

type Decided = { type: string; data: unknown }[];

/** An auto-domain HWPT already on IOAS object `ioasId` (iommufd_device_auto_get_domain reuses it). */
export function autoDomainOn(c: IommufdContext, ioasId: number): IommufdObject | undefined {
  for (const key in c.objects) {
    const o = c.objects[key]!;
    if (o.type === "hwpt_paging" && o.autoDomain === true && o.refs[0] === ioasId) return o;
  }
  return undefined;
}

/**
 * A new paging HWPT `hwptId` on IOAS object `ioasId`, its domain `kobj`:
 * the mock driver allocates the domain (fault point
 * `selftest.domain_alloc`), iopt attaches and fills it.
 * Errors: iopt's (EADDRINUSE, EINVAL, ENOMEM…).
 */
export function decideHwptPagingAlloc(
  root: IommufdRoot,
  ctxId: number,
  args: { hwptId: number; ioasId: number; kobj: number; flags: number; autoDomain: boolean },
  ctx: SubsystemDecideContext<IommufdRoot>,
): Decided | Errno {
  const ioas = root.iommufd.contexts[ctxId]!.objects[args.ioasId]!;
  const fail = ctx.step("selftest.domain_alloc", "ENOMEM");
  if (fail) return fail;
  const attach = decideAttachDomain(root, { ioas: ioas.kobj!, domain: mockDomainDescriptor(args.kobj) }, ctx);
  if (isErrno(attach)) return attach;
  return [
    { type: "iopt.mock.allocated", data: { domain: args.kobj } },
    ...attach,
    {
      type: "iommufd.object.created",
      data: {
        ctx: ctxId,
        id: args.hwptId,
        type: "hwpt_paging",
        kobj: args.kobj,
        refs: [args.ioasId],
        autoDomain: args.autoDomain,
        flags: args.flags,
      },
    },
  ];
}

/** Destroying a paging HWPT: iopt detaches (unmaps) the domain, the driver frees it. */
export function hwptPagingDestroyEffects(
  root: IommufdRoot,
  ctxId: number,
  hwpt: IommufdObject,
): Decided | Errno {
  const ioas = root.iommufd.contexts[ctxId]!.objects[hwpt.refs[0]!]!;
  const detach = decideDetachDomain(
    root,
    { ioas: ioas.kobj!, domain: hwpt.kobj! },
    { step: () => undefined, root },
  );
  if (isErrno(detach)) return detach;
  return [...detach, { type: "iopt.mock.freed", data: { domain: hwpt.kobj! } }];
}
