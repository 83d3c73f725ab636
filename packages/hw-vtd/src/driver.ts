/**
 * The driver side: what Linux's intel-iommu driver does to the hardware for
 * iommufd — allocate paging (second-stage) and nested domains, map and unmap
 * second-stage tables, attach devices (program context and PASID entries),
 * turn user invalidation requests into queued-invalidation descriptors, and
 * report `iommu_hw_info_vtd`.
 *
 * Every operation is a pair: `check…` (read-only; returns the errno Linux
 * returns, or what the operation will allocate so `decide` can mark each
 * allocation as a fallible step) and the writer (pure, on a unit; for
 * `evolve`). Domains are per unit and named by their DID.
 *
 * Source: Linux drivers/iommu/intel/iommu.c (`intel_iommu_domain_alloc_paging_flags()`,
 * `intel_iommu_hw_info()`, `intel_iommu_get_resv_regions()`), pasid.c
 * (`intel_pasid_setup_second_level()`, `pasid_pte_config_nestd()`,
 * `intel_pasid_setup_nested()`), nested.c (`intel_nested_domain_alloc()`,
 * `intel_nested_cache_invalidate_user()`), cache.c (`qi_flush_piotlb()`).
 */
import {
  copyStructFromUser,
  type Errno,
  errno,
  IOMMU_VTD_S1_EAFE,
  IOMMU_VTD_S1_SRE,
  IOMMU_VTD_S1_WPE,
  iommuHwInfoVtd,
  iommuHwptVtdS1,
  iommuHwptVtdS1Invalidate,
  isErrno,
} from "@iommu-sim/uapi";
import { type Descriptor, IOTLB_GRAN, iotlbDesc, PIOTLB_GRAN, piotlbDesc } from "./descriptors";
import { EMPTY_PASID_ENTRY, type PasidEntry, PGTT } from "./entries";
import { tagDid, tagPasid } from "./iotlb";
import { SL } from "./pte";
import { invalidateIotlb } from "./qi";
import { capMaxAgaw, capNumDomains } from "./regs";
import { type MapPlan, mapRange, type PfnRun, planMap, unmapRange } from "./sl-map";
import {
  mapDelete,
  mapSet,
  type S1Config,
  unitFeatures,
  type VtdDevice,
  type VtdDomain,
  type VtdUnit,
} from "./state";
import {
  allocFrames,
  contextFramesNeeded,
  framesAvailable,
  pasidFramesNeeded,
  programContext,
  programPasidEntry,
  readContextEntry,
} from "./tables";

/** Linux ADDR_WIDTH_4LEVEL: `iommu_hwpt_vtd_s1.addr_width` of a 4-level first stage (bits). */
export const ADDR_WIDTH_4LEVEL = 48;
/** Linux ADDR_WIDTH_5LEVEL: `iommu_hwpt_vtd_s1.addr_width` of a 5-level first stage (bits). */
export const ADDR_WIDTH_5LEVEL = 57;

/** The interrupt (MSI) window every VT-d domain reserves: [0xFEE0_0000, 0xFEEF_FFFF]. Linux IOAPIC_RANGE_START/END. */
export const MSI_WINDOW = { start: 0xfee0_0000n, last: 0xfeef_ffffn } as const;

/** A reserved IOVA region (Linux `struct iommu_resv_region`). */
export interface ReservedRegion {
  /** First byte. */
  readonly start: bigint;
  /** Length in bytes. */
  readonly length: bigint;
  /** Linux `IOMMU_RESV_MSI`: software must not map it. */
  readonly type: "msi";
}

/**
 * The regions a VT-d unit reserves in every domain: the 1 MiB interrupt
 * window (Linux `intel_iommu_get_resv_regions()`, IOMMU_RESV_MSI).
 */
export function reservedRegions(): readonly ReservedRegion[] {
  return [{ start: MSI_WINDOW.start, length: MSI_WINDOW.last - MSI_WINDOW.start + 1n, type: "msi" }];
}

/**
 * `struct iommu_hw_info_vtd` bytes (24) for IOMMU_GET_HW_INFO: flags 0,
 * cap_reg, ecap_reg. Linux `intel_iommu_hw_info()`.
 */
export function hwInfo(unit: VtdUnit): Uint8Array {
  return iommuHwInfoVtd.encode({ flags: 0, cap_reg: unit.config.cap, ecap_reg: unit.config.ecap });
}

/** Linux FLPT_DEFAULT_DID: the domain id of pass-through (identity) PASID entries. */
export const IDENTITY_DID = 1;

/**
 * Check allocating the unit's identity (pass-through) domain, DID 1.
 * @returns EOPNOTSUPP without ECAP.PT, EEXIST when it exists (Linux has one static identity domain).
 */
export function checkAllocIdentity(unit: VtdUnit): undefined | Errno {
  if (!unitFeatures(unit.config).pt) return errno("EOPNOTSUPP", "no pass-through support (ECAP.PT)");
  if (unit.domains.has(IDENTITY_DID)) return errno("EEXIST", "the identity domain exists");
  return undefined;
}

/** Allocate the identity domain (after `checkAllocIdentity`). */
export function allocIdentity(unit: VtdUnit): VtdUnit {
  const domain: VtdDomain = {
    did: IDENTITY_DID,
    kind: "identity",
    pgd: 0,
    agaw: capMaxAgaw(unit.config.cap),
    nestParent: false,
    forceSnooping: false,
    dirtyTracking: false,
    dirtyEnabled: false,
  };
  return { ...unit, domains: mapSet(unit.domains, IDENTITY_DID, domain) };
}

/** Options of a paging (second-stage) domain. */
export interface PagingOptions {
  /** IOMMU_HWPT_ALLOC_NEST_PARENT: may be the parent of nested domains (needs ECAP.NEST). */
  readonly nestParent?: boolean;
  /** IOMMU_HWPT_ALLOC_DIRTY_TRACKING: dirty tracking can be turned on (needs ECAP.SSADS). */
  readonly dirtyTracking?: boolean;
}

/** The next free DID from `unit.nextDid` (wrapping at CAP.ND's limit, skipping 0 and 1), or -1. */
function freeDid(unit: VtdUnit): number {
  const n = capNumDomains(unit.config.cap);
  for (let i = 0; i < n - 2; i++) {
    const did = 2 + ((unit.nextDid - 2 + i) % (n - 2));
    if (!unit.domains.has(did)) return did;
  }
  return -1;
}

/**
 * Check a paging-domain allocation. @returns the DID it will get, or
 * EOPNOTSUPP (no second-stage support, or NEST_PARENT without ECAP.NEST),
 * ENOSPC (no free DID; Linux `ida_alloc_range()`), ENOMEM (no table memory).
 */
export function checkAllocPaging(unit: VtdUnit, opts: PagingOptions): number | Errno {
  const fx = unitFeatures(unit.config);
  if (!fx.slts) return errno("EOPNOTSUPP", "no second-stage translation (ECAP.SLTS)");
  if (opts.nestParent === true && !fx.nest) return errno("EOPNOTSUPP", "NEST_PARENT needs ECAP.NEST");
  if (opts.dirtyTracking === true && !fx.ssads)
    return errno("EOPNOTSUPP", "dirty tracking needs second-stage A/D (ECAP.SSADS)");
  if (capMaxAgaw(unit.config.cap) < 1) return errno("EOPNOTSUPP", "no usable SAGAW");
  const did = freeDid(unit);
  if (did < 0) return errno("ENOSPC", "no free domain id");
  if (framesAvailable(unit) < 1) return errno("ENOMEM", "table memory exhausted");
  return did;
}

/**
 * Allocate paging domain `did` (from `checkAllocPaging`): a zeroed top-level
 * table, AGAW = the widest the unit supports within MGAW, snooping enforced
 * when ECAP.SC is present.
 */
export function allocPaging(unit: VtdUnit, did: number, opts: PagingOptions): VtdUnit {
  const a = allocFrames(unit, 1);
  const domain: VtdDomain = {
    did,
    kind: "paging",
    pgd: a.pa,
    agaw: capMaxAgaw(unit.config.cap),
    nestParent: opts.nestParent === true,
    forceSnooping: unitFeatures(unit.config).sc,
    dirtyTracking: opts.dirtyTracking === true,
    dirtyEnabled: false,
  };
  return { ...a.unit, nextDid: did + 1, domains: mapSet(a.unit.domains, did, domain) };
}

/**
 * Check a nested-domain allocation from `iommu_hwpt_vtd_s1` bytes on parent
 * `parent` (Linux `intel_nested_domain_alloc()`): the parent must be a
 * NEST_PARENT paging domain (EINVAL); the struct is copied with
 * `copy_struct_from_user` rules (EINVAL short, E2BIG non-zero tail,
 * EOPNOTSUPP non-zero `__reserved`); unknown `flags` → EOPNOTSUPP.
 * @returns the DID and the decoded first-stage configuration.
 */
export function checkAllocNested(
  unit: VtdUnit,
  parent: number,
  data: Uint8Array,
): { did: number; s1: S1Config } | Errno {
  const p = unit.domains.get(parent);
  if (p === undefined) return errno("ENOENT", `no domain ${parent}`);
  if (p.kind !== "paging" || !p.nestParent)
    return errno("EINVAL", "parent is not a NEST_PARENT paging domain");
  const r = copyStructFromUser(iommuHwptVtdS1, data);
  if (isErrno(r)) return r;
  const v = r.value;
  const known = BigInt(IOMMU_VTD_S1_SRE | IOMMU_VTD_S1_EAFE | IOMMU_VTD_S1_WPE);
  if ((v.flags & ~known) !== 0n) return errno("EOPNOTSUPP", "iommu_hwpt_vtd_s1.flags has unknown bits");
  if (v.pgtbl_addr >= 2n ** 53n) return errno("EINVAL", "pgtbl_addr beyond this model's physical space");
  const did = freeDid(unit);
  if (did < 0) return errno("ENOSPC", "no free domain id");
  return { did, s1: { flags: Number(v.flags), pgtblAddr: Number(v.pgtbl_addr), addrWidth: v.addr_width } };
}

/** Allocate nested domain `did` over `parent` (from `checkAllocNested`). */
export function allocNested(unit: VtdUnit, did: number, parent: number, s1: S1Config): VtdUnit {
  const p = unit.domains.get(parent)!;
  const domain: VtdDomain = {
    did,
    kind: "nested",
    pgd: 0,
    agaw: p.agaw,
    nestParent: false,
    forceSnooping: p.forceSnooping,
    dirtyTracking: false,
    dirtyEnabled: false,
    parent,
    s1,
  };
  return { ...unit, nextDid: did + 1, domains: mapSet(unit.domains, did, domain) };
}

/**
 * Check an SVA domain allocation: a first-stage domain sharing a process page
 * table whose root is at PA `pgd` (Linux `intel_svm_domain_alloc()`; the
 * first-stage setup of `intel_pasid_setup_first_level()`): EOPNOTSUPP without
 * ECAP.FLTS, EINVAL for a width other than 48/57 or 57 without CAP.FL5LP, or
 * an unaligned root. @returns the DID.
 */
export function checkAllocSva(unit: VtdUnit, pgd: bigint, addrWidth: number): number | Errno {
  const fx = unitFeatures(unit.config);
  if (!fx.flts) return errno("EOPNOTSUPP", "no first-stage translation (ECAP.FLTS)");
  if (addrWidth !== ADDR_WIDTH_4LEVEL && addrWidth !== ADDR_WIDTH_5LEVEL)
    return errno("EINVAL", `invalid first-stage address width ${addrWidth}`);
  if (addrWidth === ADDR_WIDTH_5LEVEL && !fx.fl5lp) return errno("EINVAL", "5-level paging not supported");
  if ((pgd & 0xfffn) !== 0n || pgd >= 2n ** 52n) return errno("EINVAL", "pgd must be a 4 KiB aligned PA");
  const did = freeDid(unit);
  if (did < 0) return errno("ENOSPC", "no free domain id");
  return did;
}

/** Allocate SVA domain `did` over the first-stage table at `pgd` (after `checkAllocSva`). */
export function allocSva(unit: VtdUnit, did: number, pgd: number, addrWidth: number): VtdUnit {
  const domain: VtdDomain = {
    did,
    kind: "sva",
    pgd: 0,
    agaw: capMaxAgaw(unit.config.cap),
    nestParent: false,
    forceSnooping: false,
    dirtyTracking: false,
    dirtyEnabled: false,
    s1: { flags: 0, pgtblAddr: pgd, addrWidth },
  };
  return { ...unit, nextDid: did + 1, domains: mapSet(unit.domains, did, domain) };
}

/** Check a map into paging domain `did` (see `planMap`); nested domains have no kernel-managed tables (EOPNOTSUPP). */
export function checkMap(unit: VtdUnit, did: number, iova: bigint, runs: readonly PfnRun[]): MapPlan | Errno {
  const d = unit.domains.get(did);
  if (d === undefined) return errno("ENOENT", `no domain ${did}`);
  if (d.kind !== "paging") return errno("EOPNOTSUPP", "nested domains are user-managed");
  const plan = planMap(unit, d, iova, runs);
  if (isErrno(plan)) return plan;
  if (plan.tablePages > framesAvailable(unit)) return errno("ENOMEM", "table memory exhausted");
  return plan;
}

/** Map `runs` at `iova` into paging domain `did` with Linux `prot` bits (after `checkMap`). */
export function mapDomain(
  unit: VtdUnit,
  did: number,
  iova: bigint,
  runs: readonly PfnRun[],
  prot: number,
): VtdUnit {
  return mapRange(unit, unit.domains.get(did)!, iova, runs, prot);
}

/** Check an unmap: the domain must be a paging domain, `iova` and `length` 4 KiB aligned. */
export function checkUnmap(unit: VtdUnit, did: number, iova: bigint, length: bigint): undefined | Errno {
  const d = unit.domains.get(did);
  if (d === undefined) return errno("ENOENT", `no domain ${did}`);
  if (d.kind !== "paging") return errno("EOPNOTSUPP", "nested domains are user-managed");
  if ((iova & 0xfffn) !== 0n || (length & 0xfffn) !== 0n || length === 0n)
    return errno("EINVAL", "iova and length must be non-zero multiples of 4 KiB");
  return undefined;
}

/** Unmap [iova, iova + length) from paging domain `did` (no IOTLB flush: see `iotlbFlushDescriptors`). */
export function unmapDomain(unit: VtdUnit, did: number, iova: bigint, length: bigint): VtdUnit {
  return unmapRange(unit, unit.domains.get(did)!, iova, length).unit;
}

/** What an attach needs from the caller. */
export interface AttachRequest {
  /** Requester id. */
  readonly rid: number;
  /** PASID; 0 (IOMMU_NO_PASID) = the RID_PASID entry used by requests-without-PASID. */
  readonly pasid: number;
  readonly did: number;
  /** The device supports ATS (context DTE). */
  readonly ats?: boolean;
  /** The device supports PRI (context PRE; needs ECAP.PRS). */
  readonly pri?: boolean;
}

/**
 * Check an attach (Linux `prepare_domain_attach_device()`,
 * `intel_pasid_setup_nested()`): EINVAL for a PASID beyond ECAP.PSS or a
 * non-zero PASID without ECAP.PASID, for a nested first stage the unit
 * cannot walk (addr_width not 48/57, 57 without CAP.FL5LP, SRE without
 * ECAP.SRS, EAFE without ECAP.EAFS). @returns the table frames it allocates.
 */
export function checkAttach(unit: VtdUnit, req: AttachRequest): number | Errno {
  const d = unit.domains.get(req.did);
  if (d === undefined) return errno("ENOENT", `no domain ${req.did}`);
  const fx = unitFeatures(unit.config);
  if (!Number.isInteger(req.rid) || req.rid < 0 || req.rid > 0xffff) return errno("EINVAL", "bad rid");
  if (req.pasid !== 0 && !fx.pasid) return errno("EINVAL", "unit has no PASID support");
  const pasidBits = Number((unit.config.ecap >> 35n) & 0x1fn) + 1;
  if (!Number.isInteger(req.pasid) || req.pasid < 0 || req.pasid >= 2 ** pasidBits)
    return errno("EINVAL", `pasid beyond ${pasidBits} bits`);
  if (d.kind === "nested") {
    const s1 = d.s1!;
    if (s1.addrWidth !== ADDR_WIDTH_4LEVEL && s1.addrWidth !== ADDR_WIDTH_5LEVEL)
      return errno("EINVAL", `invalid stage-1 address width ${s1.addrWidth}`);
    if (s1.addrWidth === ADDR_WIDTH_5LEVEL && !fx.fl5lp)
      return errno("EINVAL", "5-level paging not supported");
    if (s1.flags & IOMMU_VTD_S1_SRE && !fx.srs) return errno("EINVAL", "no supervisor request support");
    if (s1.flags & IOMMU_VTD_S1_EAFE && !fx.eafs) return errno("EINVAL", "no extended access flag support");
  }
  let frames = contextFramesNeeded(unit, req.rid);
  const ce = readContextEntry(unit, req.rid);
  // The PASID table is needed unless the directory exists and its entry is present.
  frames += ce?.present === true ? pasidFramesNeeded(unit, ce.pasidDirPtr, req.pasid) : 1;
  if (frames > framesAvailable(unit)) return errno("ENOMEM", "table memory exhausted");
  return frames;
}

/** The PASID-table entry the driver writes for `domain` (Linux pasid.c `pasid_pte_config_*`). */
export function pasidEntryFor(unit: VtdUnit, domain: VtdDomain): PasidEntry {
  const fx = unitFeatures(unit.config);
  if (domain.kind === "identity") {
    // Linux pasid_pte_config_pass_through(): DID, AW, PGTT 4, page snoop per SMPWC.
    return {
      ...EMPTY_PASID_ENTRY,
      present: true,
      did: IDENTITY_DID,
      aw: domain.agaw,
      pgtt: PGTT.PT,
      pwsnp: fx.smpwc,
    };
  }
  if (domain.kind === "sva") {
    // Linux pasid_pte_config_first_level(): FLPTR, FLPM, DID, AW, PGTT 1, page snoop.
    const s1 = domain.s1!;
    return {
      ...EMPTY_PASID_ENTRY,
      present: true,
      did: domain.did,
      flptptr: s1.pgtblAddr,
      flpm: s1.addrWidth === ADDR_WIDTH_5LEVEL ? 1 : 0,
      aw: domain.agaw,
      pgtt: PGTT.FL_ONLY,
      pwsnp: fx.smpwc,
    };
  }
  if (domain.kind === "paging") {
    return {
      ...EMPTY_PASID_ENTRY,
      present: true,
      did: domain.did,
      slptptr: domain.pgd,
      aw: domain.agaw,
      pgtt: PGTT.SL_ONLY,
      pwsnp: fx.smpwc,
      pgsnp: domain.forceSnooping,
      ssade: domain.dirtyEnabled,
    };
  }
  const parent = unit.domains.get(domain.parent!)!;
  const s1 = domain.s1!;
  const sre = (s1.flags & IOMMU_VTD_S1_SRE) !== 0;
  return {
    ...EMPTY_PASID_ENTRY,
    present: true,
    did: domain.did,
    flptptr: s1.pgtblAddr,
    flpm: s1.addrWidth === ADDR_WIDTH_5LEVEL ? 1 : 0,
    sre,
    wpe: sre && (s1.flags & IOMMU_VTD_S1_WPE) !== 0,
    eafe: (s1.flags & IOMMU_VTD_S1_EAFE) !== 0,
    pgsnp: parent.forceSnooping,
    slptptr: parent.pgd,
    aw: parent.agaw,
    pwsnp: fx.smpwc,
    ssade: parent.dirtyEnabled,
    pgtt: PGTT.NESTED,
  };
}

/**
 * The ATS/PRI capabilities a device is set up with: properties of the
 * device, recorded at its first attach (Linux probes them once, in
 * `intel_iommu_probe_device()`, and programs the context entry from them);
 * PRE needs ECAP.PRS.
 */
export function deviceCaps(unit: VtdUnit, req: AttachRequest): { ats: boolean; pri: boolean } {
  const prev = unit.devices.get(req.rid);
  if (prev !== undefined) return { ats: prev.ats, pri: prev.pri };
  return { ats: req.ats === true, pri: req.pri === true && unitFeatures(unit.config).prs };
}

/**
 * Attach (after `checkAttach`): program the context entry (first time) and
 * the PASID entry. Replacing an attached domain also performs the
 * invalidations Linux `intel_pasid_replace_*()` issues: the PASID-cache
 * entry and the old domain's IOTLB entries for that PASID.
 */
export function attachDevice(unit: VtdUnit, req: AttachRequest): VtdUnit {
  const domain = unit.domains.get(req.did)!;
  const prev = unit.devices.get(req.rid);
  const { ats, pri } = deviceCaps(unit, req);
  if (readContextEntry(unit, req.rid)?.present !== true) unit = programContext(unit, req.rid, ats, pri);
  const ce = readContextEntry(unit, req.rid)!;
  unit = programPasidEntry(unit, ce.pasidDirPtr, req.pasid, pasidEntryFor(unit, domain));
  const old = prev?.attached.get(req.pasid);
  if (old !== undefined) {
    const key = req.rid * 0x100000 + req.pasid;
    unit = {
      ...unit,
      pasidCache: unit.pasidCache.deleteWhere((k) => k === key),
      iotlb: unit.iotlb.invalidate((t) => tagDid(t) === old && tagPasid(t) === req.pasid),
    };
  }
  const device: VtdDevice = {
    rid: req.rid,
    pri,
    ats,
    pasidDir: ce.pasidDirPtr,
    attached: mapSet(prev?.attached ?? new Map<number, number>(), req.pasid, req.did),
  };
  return { ...unit, devices: mapSet(unit.devices, req.rid, device) };
}

/**
 * Detach `pasid` of `rid`: clear the PASID entry and drop its PASID-cache
 * and IOTLB entries (Linux `intel_pasid_tear_down_entry()`).
 * @returns EINVAL when nothing is attached there.
 */
export function checkDetach(unit: VtdUnit, rid: number, pasid: number): undefined | Errno {
  if (unit.devices.get(rid)?.attached.get(pasid) === undefined)
    return errno("EINVAL", `nothing attached at rid 0x${rid.toString(16)} pasid ${pasid}`);
  return undefined;
}

/** Detach (after `checkDetach`). */
export function detachDevice(unit: VtdUnit, rid: number, pasid: number): VtdUnit {
  const dev = unit.devices.get(rid)!;
  const did = dev.attached.get(pasid)!;
  unit = programPasidEntry(unit, dev.pasidDir, pasid, EMPTY_PASID_ENTRY);
  const key = rid * 0x100000 + pasid;
  return {
    ...unit,
    pasidCache: unit.pasidCache.deleteWhere((k) => k === key),
    iotlb: unit.iotlb.invalidate((t) => tagDid(t) === did && tagPasid(t) === pasid),
    devices: mapSet(unit.devices, rid, { ...dev, attached: mapDelete(dev.attached, pasid) }),
  };
}

/**
 * Tear down the PASID entry of `rid` at `pasid` but keep the driver's
 * record of the attachment: the entry is cleared and its PASID-cache and
 * IOTLB entries dropped, so the device can no longer walk the tables behind
 * it (Linux svm.c intel_mm_release() → intel_pasid_tear_down_entry() when an
 * SVA-bound mm exits before its unbind; the detach comes with the unbind).
 * No-op when nothing is attached there.
 */
export function teardownPasidEntry(unit: VtdUnit, rid: number, pasid: number): VtdUnit {
  const dev = unit.devices.get(rid);
  const did = dev?.attached.get(pasid);
  if (dev === undefined || did === undefined) return unit;
  unit = programPasidEntry(unit, dev.pasidDir, pasid, EMPTY_PASID_ENTRY);
  const key = rid * 0x100000 + pasid;
  return {
    ...unit,
    pasidCache: unit.pasidCache.deleteWhere((k) => k === key),
    iotlb: unit.iotlb.invalidate((t) => tagDid(t) === did && tagPasid(t) === pasid),
  };
}

/** Whether domain `did` is attached to any device/PASID of the unit. */
export function domainInUse(unit: VtdUnit, did: number): boolean {
  for (const dev of unit.devices.values()) for (const d of dev.attached.values()) if (d === did) return true;
  for (const d of unit.domains.values()) if (d.parent === did) return true;
  return false;
}

/** The PASIDs domain `did` is attached at (deduplicated). */
function attachedPasids(unit: VtdUnit, did: number): number[] {
  const out = new Set<number>();
  for (const dev of unit.devices.values()) for (const [p, d] of dev.attached) if (d === did) out.add(p);
  return [...out].sort((a, b) => a - b);
}

/** The result of a user invalidation request. */
export interface UserInvalidation {
  /** The queued-invalidation descriptors the driver submits. */
  readonly descriptors: readonly Descriptor[];
  /** Entries handled (`entry_num` written back). */
  readonly handled: number;
  /** The error that stopped processing at entry `handled`, if any. */
  readonly error?: Errno;
}

/** ilog2(roundup_pow_of_two(n)) for n ≥ 1. */
function orderOf(npages: bigint): number {
  let order = 0;
  while (1n << BigInt(order) < npages) order++;
  return order;
}

/**
 * IOMMU_HWPT_INVALIDATE on nested domain `did` with `count` entries of
 * `entryLen` bytes of `struct iommu_hwpt_vtd_s1_invalidate` (Linux
 * `intel_nested_cache_invalidate_user()`): each entry is copied with
 * `copy_struct_from_user` rules (EINVAL below 24 bytes, E2BIG non-zero
 * tail), non-zero `__reserved` or unknown flags → EOPNOTSUPP, `addr` not
 * 4 KiB aligned, or `npages` U64_MAX with `addr` ≠ 0, → EINVAL (nested.c,
 * in that order); processing stops at the first error and `handled`
 * counts the entries done. `addr` 0 with `npages` U64_MAX flushes the whole
 * domain (PASID-based IOTLB, non-globals within PASID); otherwise a
 * page-selective PASID-based IOTLB invalidation of 2^⌈log2 npages⌉ pages at
 * `addr` aligned down (Linux `qi_flush_piotlb()`), for each PASID the domain
 * is attached at (Linux cache tags); no descriptors when it is attached nowhere.
 */
export function userInvalidate(
  unit: VtdUnit,
  did: number,
  data: Uint8Array,
  entryLen: number,
  count: number,
): UserInvalidation | Errno {
  const d = unit.domains.get(did);
  if (d === undefined) return errno("ENOENT", `no domain ${did}`);
  if (d.kind !== "nested") return errno("EOPNOTSUPP", "only nested domains take user invalidations");
  const pasids = attachedPasids(unit, did);
  const descriptors: Descriptor[] = [];
  for (let i = 0; i < count; i++) {
    const bytes = data.subarray(i * entryLen, (i + 1) * entryLen);
    const r = copyStructFromUser(iommuHwptVtdS1Invalidate, bytes, entryLen);
    if (isErrno(r)) return { descriptors, handled: i, error: r };
    const e = r.value;
    if ((e.addr & 0xfffn) !== 0n)
      return { descriptors, handled: i, error: errno("EINVAL", "addr is not 4 KiB aligned") };
    if (e.npages === 0xffff_ffff_ffff_ffffn && e.addr !== 0n)
      return { descriptors, handled: i, error: errno("EINVAL", "npages U64_MAX (everything) needs addr 0") };
    for (const pasid of pasids) {
      if (e.addr === 0n && e.npages === 0xffff_ffff_ffff_ffffn) {
        descriptors.push(piotlbDesc(PIOTLB_GRAN.NONGLOBAL_PASID, did, pasid));
      } else if (e.npages !== 0n) {
        const am = Math.min(orderOf(e.npages), 52);
        const align = 1n << BigInt(12 + am);
        descriptors.push(piotlbDesc(PIOTLB_GRAN.PAGE_PASID, did, pasid, e.addr - (e.addr % align), am));
      }
    }
  }
  return { descriptors, handled: count };
}

/**
 * The descriptors Linux issues after unmapping [iova, iova + length) from a
 * second-stage domain (`cache_tag_flush_range()` → `qi_flush_iotlb()`):
 * one page-selective IOTLB invalidation covering the range at a power-of-two
 * size (address aligned down), or domain-selective when the range is larger
 * than CAP.MAMV allows.
 */
export function iotlbFlushDescriptors(
  unit: VtdUnit,
  did: number,
  iova: bigint,
  length: bigint,
): Descriptor[] {
  const mamv = Number((unit.config.cap >> 48n) & 0x3fn);
  const first = iova >> 12n;
  const last = (iova + length - 1n) >> 12n;
  let am = 0;
  while (first >> BigInt(am) !== last >> BigInt(am)) am++;
  if (am > mamv) return [iotlbDesc(IOTLB_GRAN.DOMAIN, did)];
  return [iotlbDesc(IOTLB_GRAN.PAGE, did, (first >> BigInt(am)) << BigInt(am + 12), am)];
}

/**
 * Run `iotlbFlushDescriptors(unit, did, iova, length)` on the unit — what
 * the invalidation queue does with them (`executeDescriptor` of each) —
 * without encoding and decoding the descriptor: the driver's unmap path.
 */
export function flushIotlbRange(unit: VtdUnit, did: number, iova: bigint, length: bigint): VtdUnit {
  if (unit.iotlb.size === 0) return unit; // nothing cached: every IOTLB invalidation is a no-op
  const first = Number(iova >> 12n);
  const last = Number((iova + length - 1n) >> 12n);
  let am = 0;
  while (Math.floor(first / 2 ** am) !== Math.floor(last / 2 ** am)) am++;
  if (am > Number((unit.config.cap >> 48n) & 0x3fn))
    return invalidateIotlb(unit, IOTLB_GRAN.DOMAIN, did, 0, 0);
  return invalidateIotlb(unit, IOTLB_GRAN.PAGE, did, first, am);
}

/**
 * Check turning dirty tracking on or off (Linux `intel_iommu_set_dirty_tracking()`):
 * ENOENT for no domain, EOPNOTSUPP unless it is a paging domain allocated with
 * dirty tracking (iommufd `iopt_set_dirty_tracking()` without dirty ops).
 */
export function checkSetDirtyTracking(unit: VtdUnit, did: number): undefined | Errno {
  const d = unit.domains.get(did);
  if (d === undefined) return errno("ENOENT", `no domain ${did}`);
  if (d.kind !== "paging" || !d.dirtyTracking)
    return errno("EOPNOTSUPP", "domain was not allocated for dirty tracking");
  return undefined;
}

/**
 * Turn dirty tracking on or off: rewrite SSADE in every PASID entry that uses
 * the domain or a nested child of it, and drop those PASID-cache entries and
 * the IOTLB entries of their DIDs (Linux `intel_pasid_setup_dirty_tracking()`
 * flushes the PASID cache, the IOTLB and the device TLB).
 */
export function setDirtyTracking(unit: VtdUnit, did: number, enable: boolean): VtdUnit {
  const d = unit.domains.get(did)!;
  unit = { ...unit, domains: mapSet(unit.domains, did, { ...d, dirtyEnabled: enable }) };
  const dids = new Set<number>([did]);
  for (const x of unit.domains.values()) if (x.parent === did) dids.add(x.did);
  for (const dev of unit.devices.values()) {
    for (const [pasid, attached] of dev.attached) {
      if (!dids.has(attached)) continue;
      unit = programPasidEntry(unit, dev.pasidDir, pasid, pasidEntryFor(unit, unit.domains.get(attached)!));
      const key = dev.rid * 0x100000 + pasid;
      unit = { ...unit, pasidCache: unit.pasidCache.deleteWhere((k) => k === key) };
    }
  }
  return { ...unit, iotlb: unit.iotlb.invalidate((t) => dids.has(tagDid(t))) };
}

/** A dirty range: one second-stage leaf with D set. */
export interface DirtyRange {
  /** First byte (the leaf's IOVA). */
  readonly iova: bigint;
  /** The leaf's size in bytes (4 KiB, 2 MiB or 1 GiB). */
  readonly length: bigint;
}

/**
 * The leaves of paging domain `did` with D set that overlap [iova, iova +
 * length), whole leaves as Linux records them (`iommu_dirty_bitmap_record()`
 * with the leaf size; `intel_iommu_read_and_clear_dirty()`). Pure.
 */
export function readDirty(unit: VtdUnit, did: number, iova: bigint, length: bigint): DirtyRange[] {
  const d = unit.domains.get(did);
  if (d === undefined || d.kind !== "paging") return [];
  const out: DirtyRange[] = [];
  forEachLeaf(unit, d, iova, length, (leafIova, lo, size) => {
    if (lo & SL.D) out.push({ iova: leafIova, length: size });
  });
  return out;
}

/** Clear D in the leaves of `did` overlapping the range (no IOTLB flush: the caller's next step). */
export function clearDirty(unit: VtdUnit, did: number, iova: bigint, length: bigint): VtdUnit {
  const d = unit.domains.get(did)!;
  const clears: number[] = [];
  forEachLeaf(unit, d, iova, length, (_iova, lo, _size, entryPa) => {
    if (lo & SL.D) clears.push(entryPa, lo & ~SL.D);
  });
  let tables = unit.tables;
  for (let i = 0; i < clears.length; i += 2) tables = tables.writeU32(clears[i]!, clears[i + 1]! >>> 0);
  return { ...unit, tables };
}

/** Visit the present leaves of a second-stage domain overlapping [iova, iova + length). */
function forEachLeaf(
  unit: VtdUnit,
  d: VtdDomain,
  iova: bigint,
  length: bigint,
  visit: (iova: bigint, lo: number, size: bigint, entryPa: number) => void,
): void {
  const levels = d.agaw + 2;
  let vpn = Number(iova >> 12n);
  const end = Number((iova + length + 0xfffn) >> 12n);
  while (vpn < end) {
    let table = d.pgd;
    let step = 1;
    for (let level = levels; level >= 1; level--) {
      const scale = 512 ** (level - 1);
      const pa = table + (Math.floor(vpn / scale) % 512) * 8;
      const lo = unit.tables.readU32(pa);
      step = scale - (vpn % scale);
      if ((lo & (SL.R | SL.W)) === 0) break;
      const hi = unit.tables.readU32(pa + 4);
      if (level === 1 || lo & SL.PS) {
        visit(BigInt(vpn - (vpn % scale)) * 4096n, lo, BigInt(scale) * 4096n, pa);
        break;
      }
      table = (hi & 0xfffff) * 4294967296 + (lo >>> 12) * 4096;
    }
    vpn += step;
  }
}
