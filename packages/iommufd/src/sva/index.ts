/**
 * SVA for the composed system: the drivers' side of ioasid's SVA bind
 * (packages/ioasid sva-hooks.ts) — the mm's CPU page table, the SVA domain
 * and PASID entry on the device's IOMMU, page requests at the bond's PASID
 * routed to the SVA fault queue and handled by faulting the mm — and the
 * `vtd` slice's SVA following (follow.ts). `createSystem()` wires both.
 *
 * VT-d only: a device behind an SMMUv3 or the selftest mock gets
 * EOPNOTSUPP from bind — SMMUv3 SVA (arm-smmu-v3-sva.c) shares an AArch64
 * stage-1 table of the mm through a CD, and the model's processes have
 * x86-64 tables only.
 */
import type { SvaHooks } from "@iommu-sim/ioasid";
import { errno } from "@iommu-sim/uapi";
import type { Platform, PlatformDevice } from "../platform";
import { handleSvaGroup, vtdSvaPageRequest } from "./iopf";
import { type SvaVtdRoot, vtdSvaBind, vtdSvaUnbind } from "./vtd";

export { SVA_MM_EVENTS, type SvaFollowRoot, svaFlushDescriptors, withSvaFollowing } from "./follow";
export { checkSvaInvariants, type SvaCheckRoot } from "./invariants";
export { handleSvaGroup, isVtdSvaPasid, vtdSvaPageRequest } from "./iopf";
export { type SvaVtdRoot, svaDomainOf, vtdGroupResponse, vtdSvaBind, vtdSvaUnbind } from "./vtd";

/** Where device `rid` is: the platform device and its IOMMU (kind, and index among the units of that kind). */
export function deviceIommu(
  platform: Platform,
  rid: number,
): { dev: PlatformDevice; kind: "vtd" | "smmu" | "mock"; unit: number } | undefined {
  const dev = platform.devices.find((d) => d.rid === rid);
  const iommu = platform.iommus.find((u) => u.name === dev?.iommu);
  if (dev === undefined || iommu === undefined) return undefined;
  const unit = platform.iommus.filter((u) => u.kind === iommu.kind).indexOf(iommu);
  return { dev, kind: iommu.kind, unit };
}

/**
 * The SVA hooks of `platform` for `createIoasid({ sva })`: bind and unbind
 * program the device's VT-d unit (vtd.ts), page requests at SVA PASIDs
 * (`vtd.prq.queued`) go to the SVA fault queue, and its work faults the mm
 * (iopf.ts).
 */
export function svaHooks(platform: Platform): SvaHooks<SvaVtdRoot> {
  return {
    bind(root, b, ctx) {
      const where = deviceIommu(platform, b.rid);
      if (where === undefined) return errno("ENODEV", `no device with RID 0x${b.rid.toString(16)}`);
      if (where.kind !== "vtd") return errno("EOPNOTSUPP", `SVA on ${where.kind} is not modelled`);
      return vtdSvaBind(root, where.unit, where.dev, b, ctx);
    },
    unbind(root, b, pending) {
      const where = deviceIommu(platform, b.rid);
      return where?.kind === "vtd" ? vtdSvaUnbind(root, where.unit, b, pending) : [];
    },
    pageRequestEvents: ["vtd.prq.queued"],
    pageRequest: (root, e) => vtdSvaPageRequest(root.vtd, e),
    handle: (root, group, pid, ctx) => handleSvaGroup(root, group, pid, ctx),
  };
}
