/**
 * The ARM SMMUv3 driver's nested domains behind iommufd (Linux
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-iommufd.c
 * `arm_vsmmu_alloc_domain_nested()` + `arm_smmu_validate_vste()`): the
 * guest's STE words 0–1 (`iommu_hwpt_arm_smmuv3.ste`, only V, Config,
 * S1Fmt, S1ContextPtr, S1CDMax, S1DSS, S1CIR, S1COR, S1CSH, S1STALLD and
 * EATS allowed) over a stage-2 NEST_PARENT domain; attaching a device
 * installs the nested STE (Config = S1+S2: the guest's CD table walked
 * through the parent's stage 2, `arm_smmu_make_nested_domain_ste()`).
 *
 * Deviation from Linux ≥ 6.13: there the parent is a vIOMMU object of
 * type IOMMU_VIOMMU_TYPE_ARM_SMMUV3 (IOMMU_VIOMMU_ALLOC,
 * `arm_vsmmu_init()`) and guest invalidations go to the vIOMMU
 * (IOMMU_HWPT_INVALIDATE on its id, `arm_vsmmu_cache_invalidate()`). The
 * model has vIOMMUs only for the selftest mock (viommu.ts): an SMMUv3
 * device answers IOMMU_VIOMMU_ALLOC with EOPNOTSUPP, so the NEST_PARENT
 * paging HWPT itself is the parent here, and a nested SMMU HWPT has no
 * `cache_invalidate_user` (IOMMU_HWPT_INVALIDATE → EOPNOTSUPP, as Linux
 * answers for the same domain).
 */
import type { DecideContext } from "@iommu-sim/eventlog";
import { type SmmuRoot, smmuSubsystem } from "@iommu-sim/hw-smmu";
import { type Errno, errno, IOMMU_HWPT_DATA_ARM_SMMUV3, iommuHwptArmSmmuv3, isErrno } from "@iommu-sim/uapi";
import type { HwDomainRef } from "../state";
import type { Decided, DeviceInfo, HwRoot, UserData } from "./driver";
import { copyUserData } from "./user-data";

/**
 * `arm_vsmmu_alloc_domain_nested()` on parent `parent`: flags (ALLOC_PASID
 * included: SMMUv3 nested domains take no PASID) → EOPNOTSUPP;
 * `iommu_hwpt_arm_smmuv3` copied with `iommu_copy_struct_from_user`
 * (another data type or data_len other than 16 → EINVAL, unreadable →
 * EFAULT); then hw-smmu's `smmu.domain.allocNested`
 * (parent not stage 2 → EINVAL; STE bits Linux does not allow, Config
 * other than abort/bypass/stage 1, EATS > 1 → EIO; fault point
 * `smmu.nested_domain_alloc`).
 * Events: `smmu.domain.nestedAllocated`, `iommufd.hw_domain.bound`.
 */
export function smmuAllocNested(
  root: HwRoot,
  parent: HwDomainRef,
  _dev: DeviceInfo,
  kobj: number,
  flags: number,
  data: UserData,
  ctx: DecideContext,
): Decided | Errno {
  if (flags !== 0) return errno("EOPNOTSUPP", "nested domain flags must be 0");
  if (root.smmu?.instances.get(parent.unit) === undefined)
    return errno("ENODEV", `no SMMU instance ${parent.unit}`);
  const arg = copyUserData(iommuHwptArmSmmuv3, data, IOMMU_HWPT_DATA_ARM_SMMUV3);
  if (isErrno(arg)) return arg;
  const r = smmuSubsystem.decide(
    root.smmu!,
    {
      type: "smmu.domain.allocNested",
      data: { instance: parent.unit, parent: parent.domain, ste: [arg.ste[0]!, arg.ste[1]!] },
    },
    { step: ctx.step, root: root as unknown as SmmuRoot },
  );
  if (isErrno(r)) return r;
  const domain = (r[0]!.data as { domain: number }).domain;
  return [
    ...r,
    { type: "iommufd.hw_domain.bound", data: { kobj, driver: "smmu", unit: parent.unit, domain } },
  ];
}
