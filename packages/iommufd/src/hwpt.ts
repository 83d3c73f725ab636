/**
 * Paging HW page tables (Linux hw_pagetable.c iommufd_hwpt_paging_alloc,
 * iommufd_hwpt_paging_destroy): a domain of the device's IOMMU driver,
 * attached to an IOAS so that it maps every area (iopt_table_add_domain).
 *
 * Drivers (drivers/): the selftest mock (iopt's mock domain: 2 KiB IO
 * pages, aperture [2^24, 2^31 − 1]), VT-d and SMMUv3 (4 KiB IO pages,
 * aperture from the unit's address width). Filling a new hardware domain
 * allocates its page-table pages: one `<driver>.pt_alloc` fault point each
 * (drivers/map-steps.ts).
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import { decideAttachDomain, decideDetachDomain } from "@iommu-sim/iopt";
import { type Errno, isErrno } from "@iommu-sim/uapi";
import { domainRef, hwptDriverKey } from "./devices";
import type { HwRoot, IommuDriver } from "./drivers/driver";
import { driverOf } from "./drivers/index";
import { mockDriver } from "./drivers/mock";
import type { IommufdRoot } from "./root";
import type { IommufdContext, IommufdObject } from "./state";

type Decided = { type: string; data: unknown }[];

/**
 * An auto-domain HWPT already on IOAS object `ioasId` whose domain belongs
 * to driver key `key` (`mock`, `vtd:0`…): iommufd_device_auto_get_domain()
 * reuses the first one the device can attach to.
 */
export function autoDomainOn(
  root: IommufdRoot,
  c: IommufdContext,
  ioasId: number,
  key = "mock",
): IommufdObject | undefined {
  for (const k in c.objects) {
    const o = c.objects[k]!;
    if (o.type !== "hwpt_paging" || o.autoDomain !== true || o.refs[0] !== ioasId) continue;
    if (hwptDriverKey(root.iommufd, o) === key) return o;
  }
  return undefined;
}

/** The driver and unit a new domain is allocated on. */
export interface HwTarget {
  readonly driver: IommuDriver;
  readonly unit: number;
}

/**
 * A new paging HWPT `hwptId` on IOAS object `ioasId`, its domain `kobj`:
 * `args.hw`'s driver (default: the selftest mock) allocates the domain —
 * its own fault points (the mock's `selftest.domain_alloc`; hardware ones
 * then `iommufd.hw_domain.bound`) —, iopt attaches it and the driver fills
 * it (iommufd_hwpt_paging_alloc → iopt_table_add_domain →
 * iopt_fill_domain: one `<driver>.pt_alloc` fault point per table page).
 * Errors: the driver's (ENODEV, EOPNOTSUPP, ENOSPC, ENOMEM); iopt's
 * (EADDRINUSE an area outside the aperture, EINVAL, ENOMEM…).
 */
export function decideHwptPagingAlloc(
  root: IommufdRoot,
  ctxId: number,
  args: {
    hwptId: number;
    ioasId: number;
    kobj: number;
    flags: number;
    autoDomain: boolean;
    hw?: HwTarget;
  },
  ctx: SubsystemDecideContext<IommufdRoot>,
): Decided | Errno {
  const ioas = root.iommufd.contexts[ctxId]!.objects[args.ioasId]!;
  const domain = allocDomain(root, args, ctx);
  if (isErrno(domain)) return domain;
  const attach = decideAttachDomain(root, { ioas: ioas.kobj!, domain: domain.descriptor }, ctx);
  if (isErrno(attach)) return attach;
  return [
    ...domain.events,
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

/** The driver's domain allocation (`args.hw`'s, else the mock's): its events and iopt's descriptor of the domain. */
function allocDomain(
  root: IommufdRoot,
  args: { kobj: number; flags: number; hw?: HwTarget },
  ctx: SubsystemDecideContext<IommufdRoot>,
) {
  const hw = args.hw ?? { driver: mockDriver, unit: 0 };
  return hw.driver.allocPaging(root as HwRoot, hw.unit, args.kobj, args.flags, ctx);
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
  const ref = domainRef(root.iommufd, hwpt.kobj!);
  return [...detach, ...driverOf(ref.driver).freeDomain(root as HwRoot, ref, hwpt.kobj!)];
}
