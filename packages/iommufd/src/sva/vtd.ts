/**
 * SVA on Intel VT-d scalable mode: what the intel driver does for
 * iommu_sva_bind_device() / iommu_sva_unbind_device(), as events on the
 * `vtd` slice (and the mm's CPU page table), decided on pure hw-vtd
 * functions.
 *
 * Bind (drivers/iommu/iommu-sva.c iommu_sva_bind_device(); intel svm.c
 * intel_svm_domain_alloc(), intel_svm_set_dev_pasid(); pasid.c
 * intel_pasid_setup_first_level()):
 * - the mm's page table (`mm.pgd.allocated`, once per mm — the model's
 *   processes get their x86 table at their first bind);
 * - the mm's SVA domain on the unit, shared by every device of that mm
 *   behind it (`mm->iommu_mm->sva_domains`): first stage over `mm->pgd`,
 *   4-level (ADDR_WIDTH_4LEVEL: the model's CPUs have no LA57);
 * - the device's PASID-table entry at the mm's PASID: PGTT = first-stage
 *   only, FLPTR = pgd, SRE = 0 (user requests only), FLPM = 0 (4-level),
 *   the domain's DID; the context entry with PRE when it is the device's
 *   first attach.
 * Unbind (iommu_detach_device_pasid() → intel_svm remove_dev_pasid →
 * intel_pasid_tear_down_entry(), intel_drain_pasid_prq()): complete pending
 * fault groups are answered INVALID and partial ones dropped (io-pgfault.c
 * iopf_queue_remove_device()), the PASID entry cleared with its PASID-cache
 * and PASID-based IOTLB entries, and the domain freed with its last device
 * (iommu_domain_free() when `domain->users` drops to 0).
 */
import type { Message, SubsystemDecideContext } from "@iommu-sim/eventlog";
import {
  ADDR_WIDTH_4LEVEL,
  allocSva,
  checkAllocSva,
  checkAttach,
  detachDevice,
  deviceCaps,
  domainInUse,
  type VtdState,
  type VtdUnit,
} from "@iommu-sim/hw-vtd";
import type { SvaBinding, SvaIopfGroup } from "@iommu-sim/ioasid";
import { decidePgdAlloc, type MmState } from "@iommu-sim/iopt";
import { type Errno, errno, IOMMU_PGFAULT_FLAGS_PASID_VALID, isErrno } from "@iommu-sim/uapi";
import { vtdResponseBytes } from "../fault/hw-response";
import type { PlatformDevice } from "../platform";

/** The root the SVA driver decides on. */
export interface SvaVtdRoot {
  readonly mm: MmState;
  readonly vtd: VtdState;
}

/** The SVA domain of the mm whose page table is at `pgd` on `unit`, if one exists (its DID). */
export function svaDomainOf(unit: VtdUnit, pgd: number): number | undefined {
  for (const d of unit.domains.values()) if (d.kind === "sva" && d.s1?.pgtblAddr === pgd) return d.did;
  return undefined;
}

/**
 * The hardware events of binding `b` on VT-d unit `unitId` (see the module
 * comment). Errors: ESRCH (no such process), ENODEV (no unit, or a device
 * without PRI: intel_iommu_enable_iopf() wants `pri_enabled`), EBUSY (the
 * device has something attached at that PASID already:
 * iommu_attach_device_pasid()), checkAllocSva's and checkAttach's errnos;
 * ENOMEM at the fault points `mm.pgd_alloc`, `sva.domain_alloc`
 * (intel_svm_domain_alloc()'s kzalloc), `sva.mmu_notifier_register`,
 * `vtd.did_alloc` (ENOSPC), `vtd.pasid_table_alloc` (per table page).
 */
export function vtdSvaBind(
  root: SvaVtdRoot,
  unitId: number,
  dev: PlatformDevice,
  b: SvaBinding,
  ctx: SubsystemDecideContext<unknown>,
): readonly Message[] | Errno {
  let unit = root.vtd.units.get(unitId);
  if (unit === undefined) return errno("ENODEV", `no VT-d unit ${unitId}`);
  if (unit.devices.get(b.rid)?.attached.has(b.pasid) === true)
    return errno("EBUSY", `PASID ${b.pasid} of ${dev.name} is in use`);
  const pgdEvents = decidePgdAlloc(root.mm, b.mm, ctx);
  if (isErrno(pgdEvents)) return pgdEvents;
  const pgd = root.mm.processes.get(b.mm)?.pgd ?? Number(pgdEvents[0]!.data.pgd);
  const out: Message[] = [...pgdEvents];

  let did = svaDomainOf(unit, pgd);
  if (did === undefined) {
    const fresh = checkAllocSva(unit, BigInt(pgd), ADDR_WIDTH_4LEVEL);
    if (isErrno(fresh)) return fresh;
    const e =
      ctx.step("sva.domain_alloc") ??
      ctx.step("sva.mmu_notifier_register") ??
      ctx.step("vtd.did_alloc", "ENOSPC");
    if (e) return e;
    did = fresh;
    unit = allocSva(unit, did, pgd, ADDR_WIDTH_4LEVEL);
    out.push({
      type: "vtd.domain.allocated",
      data: { unit: unitId, did, nestParent: false, sva: { pgd: BigInt(pgd), addrWidth: ADDR_WIDTH_4LEVEL } },
    });
  }
  const req = { rid: b.rid, pasid: b.pasid, did, ats: dev.ats === true, pri: dev.pri === true };
  const caps = deviceCaps(unit, req);
  if (!caps.pri) return errno("ENODEV", `${dev.name} has no page request interface (PRI): SVA needs IOPF`);
  const frames = checkAttach(unit, req);
  if (isErrno(frames)) return frames;
  for (let i = 0; i < frames; i++) {
    const e = ctx.step("vtd.pasid_table_alloc");
    if (e) return e;
  }
  out.push({ type: "vtd.device.attached", data: { unit: unitId, ...req, ...caps } });
  return out;
}

/** The page group response descriptor event answering `g` with `code` on its unit. */
export function vtdGroupResponse(vtd: VtdState, unitId: number, g: SvaIopfGroup, code: number): Message[] {
  const tail = {
    source: { driver: "vtd", unit: unitId, rid: g.rid },
    pasid: g.pasid,
    grpid: g.grpid,
    flags: IOMMU_PGFAULT_FLAGS_PASID_VALID,
  } as const;
  const descriptors = vtdResponseBytes(vtd, tail, code);
  return descriptors === undefined ? [] : [{ type: "vtd.qi.executed", data: { unit: unitId, descriptors } }];
}

/** Linux `IOMMU_PAGE_RESP_INVALID`. */
const RESP_INVALID = 1;

/**
 * The hardware events of `b`'s end on unit `unitId`: pending groups
 * answered INVALID, `vtd.device.detached` (entry cleared, PASID-cache and
 * IOTLB entries of the DID and PASID dropped), `vtd.domain.freed` when no
 * other device uses the SVA domain. Nothing when the PASID is not attached.
 */
export function vtdSvaUnbind(
  root: { readonly vtd: VtdState },
  unitId: number,
  b: SvaBinding,
  pending: readonly SvaIopfGroup[],
): Message[] {
  const unit = root.vtd.units.get(unitId);
  const did = unit?.devices.get(b.rid)?.attached.get(b.pasid);
  if (unit === undefined || did === undefined || unit.domains.get(did)?.kind !== "sva") return [];
  const out: Message[] = [];
  for (const g of pending) if (g.complete) out.push(...vtdGroupResponse(root.vtd, unitId, g, RESP_INVALID));
  out.push({ type: "vtd.device.detached", data: { unit: unitId, rid: b.rid, pasid: b.pasid } });
  if (!domainInUse(detachDevice(unit, b.rid, b.pasid), did))
    out.push({ type: "vtd.domain.freed", data: { unit: unitId, did } });
  return out;
}
