/**
 * The Intel VT-d driver's nested domains behind iommufd (Linux
 * drivers/iommu/intel/nested.c): `intel_iommu_domain_alloc_nested()` —
 * a first-stage table owned by the guest (`iommu_hwpt_vtd_s1.pgtbl_addr`,
 * a GPA in the parent's IOVA space) over a NEST_PARENT second-stage
 * domain, programmed as a PASID entry with PGTT = nested (FLPTPTR = the
 * guest's table, SLPTPTR = the parent's) when a device attaches — and
 * `intel_nested_cache_invalidate_user()`: `iommu_hwpt_vtd_s1_invalidate`
 * entries become PASID-based IOTLB invalidation descriptors
 * (`cache_tag_flush_range()` → `qi_flush_piotlb()`, VT-d spec 4.1 §6.5.2.4)
 * run by the unit's invalidation queue. Until then the IOTLB keeps serving
 * the nested translation it cached, as the hardware does.
 */
import type { DecideContext } from "@iommu-sim/eventlog";
import {
  descriptorSize,
  encodeDescriptors,
  unitFeatures,
  userInvalidate,
  type VtdRoot,
  vtd,
} from "@iommu-sim/hw-vtd";
import {
  type Errno,
  errno,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_HWPT_DATA_VTD_S1,
  IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
  iommuHwptVtdS1,
  iommuHwptVtdS1Invalidate,
  isErrno,
} from "@iommu-sim/uapi";
import type { HwDomainRef } from "../state";
import type { Decided, DeviceInfo, HwRoot, UserData, UserDataArray, UserInvalidation } from "./driver";
import { copyUserData, kernelCopy, userArrayEntry } from "./user-data";

/**
 * `intel_iommu_domain_alloc_nested()`: flags other than
 * IOMMU_HWPT_ALLOC_PASID → EOPNOTSUPP; a data type
 * other than IOMMU_HWPT_DATA_VTD_S1 → EOPNOTSUPP; `iommu_hwpt_vtd_s1`
 * copied with `iommu_copy_struct_from_user` (data_len other than 24 →
 * EINVAL, unreadable → EFAULT); then hw-vtd's
 * `vtd.domain.alloc_nested` (parent not NEST_PARENT → EINVAL, non-zero
 * `__reserved` or unknown `flags` (SRE/EAFE/WPE are known) → EOPNOTSUPP,
 * no free DID → ENOSPC; fault points `vtd.domain_alloc`, `vtd.did_alloc`).
 * The first-stage width and SRE/EAFE support are checked at attach
 * (hw-vtd `checkAttach`: EINVAL), as Linux does in `intel_pasid_setup_nested()`.
 * Events: `vtd.domain.allocated` (parent + s1), `iommufd.hw_domain.bound`.
 */
export function vtdAllocNested(
  root: HwRoot,
  parent: HwDomainRef,
  _dev: DeviceInfo,
  kobj: number,
  flags: number,
  data: UserData,
  ctx: DecideContext,
): Decided | Errno {
  if ((flags & ~IOMMU_HWPT_ALLOC_PASID) !== 0) return errno("EOPNOTSUPP", "flags other than ALLOC_PASID");
  if (data.type !== IOMMU_HWPT_DATA_VTD_S1) return errno("EOPNOTSUPP", "not IOMMU_HWPT_DATA_VTD_S1");
  if (root.vtd?.units.get(parent.unit) === undefined) return errno("ENODEV", `no VT-d unit ${parent.unit}`);
  const s1 = copyUserData(iommuHwptVtdS1, data);
  if (isErrno(s1)) return s1;
  const bytes = kernelCopy(iommuHwptVtdS1, data.bytes!.subarray(0, data.len));
  const r = vtd.decide(
    root.vtd!,
    { type: "vtd.domain.alloc_nested", data: { unit: parent.unit, parent: parent.domain, data: bytes } },
    { step: ctx.step, root: root as unknown as VtdRoot },
  );
  if (isErrno(r)) return r;
  const did = (r[0]!.data as { did: number }).did;
  return [
    ...r,
    { type: "iommufd.hw_domain.bound", data: { kobj, driver: "vtd", unit: parent.unit, domain: did } },
  ];
}

/**
 * How far the entries can go before one fails iommufd's copy rules
 * (unreadable, entry_len other than 24): its index and error. hw-vtd's
 * `userInvalidate` checks the entries' contents.
 */
function firstStop(array: UserDataArray): { at: number; error?: Errno } {
  for (let i = 0; i < array.entryNum; i++) {
    const entry = userArrayEntry(array, i, iommuHwptVtdS1Invalidate);
    if (isErrno(entry)) return { at: i, error: entry };
  }
  return { at: array.entryNum };
}

/**
 * `intel_nested_cache_invalidate_user()` on nested domain `ref`: a type
 * other than IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 → EINVAL before any entry;
 * per entry, in order: entry_len other than 24 → EINVAL, unreadable →
 * EFAULT, unknown flags (LEAF is known) or non-zero
 * `__reserved` → EOPNOTSUPP, `addr` not 4 KiB aligned or `npages` U64_MAX
 * with `addr` ≠ 0 → EINVAL. Each valid entry is a PASID-based IOTLB
 * invalidation for every PASID the domain is attached at: page-selective
 * (2^⌈log2 npages⌉ 4 KiB pages around `addr`), or all non-global entries
 * of the PASID for `addr` 0 + `npages` U64_MAX (hw-vtd `userInvalidate`).
 * Events: `vtd.qi.executed` with those descriptors (when there are any),
 * `vtd.hwpt.invalidated`.
 */
export function vtdUserInvalidate(
  root: HwRoot,
  ref: HwDomainRef,
  array: UserDataArray,
  _ctx: DecideContext,
): UserInvalidation {
  if (array.type !== IOMMU_HWPT_INVALIDATE_DATA_VTD_S1)
    return { events: [], handled: 0, error: errno("EINVAL", "not IOMMU_HWPT_INVALIDATE_DATA_VTD_S1") };
  const unit = root.vtd?.units.get(ref.unit);
  if (unit === undefined)
    return { events: [], handled: 0, error: errno("ENODEV", `no VT-d unit ${ref.unit}`) };
  const stop = firstStop(array);
  const r = userInvalidate(unit, ref.domain, array.data, array.entryLen, stop.at);
  if (isErrno(r)) return { events: [], handled: 0, error: r };
  const error = r.error ?? stop.error;
  const events: Decided = [];
  if (r.descriptors.length > 0) {
    const size = descriptorSize(unitFeatures(unit.config).smts);
    events.push({
      type: "vtd.qi.executed",
      data: { unit: ref.unit, descriptors: encodeDescriptors(r.descriptors, size) },
    });
  }
  const errName = error === undefined ? {} : { error: error.name };
  events.push({
    type: "vtd.hwpt.invalidated",
    data: { unit: ref.unit, did: ref.domain, handled: r.handled, ...errName },
  });
  return { events, handled: r.handled, ...(error === undefined ? {} : { error }) };
}
