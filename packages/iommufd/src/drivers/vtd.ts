/**
 * The Intel VT-d driver behind iommufd (Linux drivers/iommu/intel/iommu.c):
 * second-stage paging domains (`intel_iommu_domain_alloc_paging_flags()`),
 * RID attach through the scalable-mode PASID entry of RID_PASID
 * (`intel_pasid_setup_second_level()`), `iommu_hw_info_vtd`
 * (`intel_iommu_hw_info()`) and the interrupt window
 * (`intel_iommu_get_resv_regions()`). The checks and fault points are
 * hw-vtd's own: this adapter asks its decider.
 */
import type { DecideContext } from "@iommu-sim/eventlog";
import {
  agawToWidth,
  capMaxAgaw,
  ECAP,
  framesAvailable,
  hwInfo,
  mapTableBound,
  mapTablePages,
  regGet,
  reservedRegions,
  translate,
  unitFeatures,
  type VtdRoot,
  type VtdUnit,
  vtd,
} from "@iommu-sim/hw-vtd";
import {
  type Errno,
  errno,
  IOMMU_HW_CAP_DIRTY_TRACKING,
  IOMMU_HW_INFO_TYPE_INTEL_VTD,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
  isErrno,
  type VtdCommand,
} from "@iommu-sim/uapi";
import { vtdResponseBytes } from "../fault/hw-response";
import type { HwDomainRef } from "../state";
import type {
  AllocatedDomain,
  Decided,
  DeviceInfo,
  HwInfo,
  HwRoot,
  IommuDriver,
  ReservedRange,
  Translation,
} from "./driver";
import { vtdAllocNested, vtdUserInvalidate } from "./vtd-nested";

/** The paging flags Linux's intel driver accepts (`supported_flags` of intel_iommu_domain_alloc_paging_flags). */
const VTD_PAGING_FLAGS =
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_PASID;

function unitOf(root: HwRoot, unit: number): VtdUnit | Errno {
  return root.vtd?.units.get(unit) ?? errno("ENODEV", `no VT-d unit ${unit}`);
}

/** Run hw-vtd's decider on one command (its checks and fault points). */
function decideVtd(root: HwRoot, command: VtdCommand, ctx: DecideContext): Decided | Errno {
  const r = vtd.decide(root.vtd!, command, { step: ctx.step, root: root as unknown as VtdRoot });
  return isErrno(r) ? r : [...r];
}

/**
 * pgsize_bitmap of a VT-d second-stage domain (Linux intel/iommu.c
 * domain_super_pgsize_bitmap()): 4 KiB, plus 2 MiB and 1 GiB where
 * CAP.SLLPS bits 0 and 1 say the unit has those superpages.
 */
export function vtdPgsizeBitmap(sllps: number): bigint {
  return 0x1000n | (sllps & 1 ? 0x20_0000n : 0n) | (sllps & 2 ? 0x4000_0000n : 0n);
}

/**
 * The descriptor iopt gets for a VT-d paging domain: 4 KiB IO pages,
 * aperture [0, 2^width − 1] with width the AGAW the domain gets (the
 * widest SAGAW within MGAW: Linux `domain->geometry.aperture_end =
 * __DOMAIN_MAX_ADDR(gaw)`), cache coherency enforced when ECAP.SC, the
 * superpage sizes of CAP.SLLPS (`vtdPgsizeBitmap`).
 */
export function vtdDomainDescriptor(unit: VtdUnit, kobj: number) {
  const width = agawToWidth(capMaxAgaw(unit.config.cap));
  return {
    id: kobj,
    ioPageSize: 4096,
    apertureStart: 0n,
    apertureLast: (1n << BigInt(width)) - 1n,
    enforceCacheCoherency: unitFeatures(unit.config).sc,
    pgsizeBitmap: vtdPgsizeBitmap(unitFeatures(unit.config).sllps),
  };
}

/** The VT-d driver. */
export const vtdDriver: IommuDriver = {
  kind: "vtd",
  userPasidTable: false,
  pagingFlags: () => VTD_PAGING_FLAGS,

  allocPaging(root, unit, kobj, flags, ctx): AllocatedDomain | Errno {
    const u = unitOf(root, unit);
    if (isErrno(u)) return u;
    const events = decideVtd(
      root,
      {
        type: "vtd.domain.alloc",
        data: {
          unit,
          nestParent: (flags & IOMMU_HWPT_ALLOC_NEST_PARENT) !== 0,
          dirtyTracking: (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) !== 0,
        },
      },
      ctx,
    );
    if (isErrno(events)) return events;
    const did = (events[0]!.data as { did: number }).did;
    events.push({ type: "iommufd.hw_domain.bound", data: { kobj, driver: "vtd", unit, domain: did } });
    return { events, descriptor: vtdDomainDescriptor(u, kobj) };
  },

  freeDomain(_root, ref: HwDomainRef, kobj): Decided {
    return [
      { type: "vtd.domain.freed", data: { unit: ref.unit, did: ref.domain } },
      { type: "iommufd.hw_domain.unbound", data: { kobj } },
    ];
  },

  attachDevice(root, ref, dev: DeviceInfo, pasid, ctx): Decided | Errno {
    const u = unitOf(root, ref.unit);
    if (isErrno(u)) return u;
    return decideVtd(
      root,
      {
        type: "vtd.device.attach",
        data: { unit: ref.unit, rid: dev.rid, pasid, did: ref.domain, ats: dev.ats, pri: dev.pri },
      },
      ctx,
    );
  },

  detachDevice(_root, dev, pasid): Decided {
    return [{ type: "vtd.device.detached", data: { unit: dev.unit, rid: dev.rid, pasid } }];
  },

  maxPasidLog2(root, dev): number {
    const u = root.vtd?.units.get(dev.unit);
    if (u === undefined || !unitFeatures(u.config).pasid) return 0;
    // iommu->iommu.max_pasids = 2 << ECAP.PSS; the device's PCI PASID width caps it.
    return Math.min(dev.pasidBits, regGet(u.config.ecap, ECAP.PSS) + 1);
  },

  hwInfo(root, dev): HwInfo | undefined {
    const u = root.vtd?.units.get(dev.unit);
    if (u === undefined) return undefined;
    return {
      type: IOMMU_HW_INFO_TYPE_INTEL_VTD,
      data: hwInfo(u),
      capabilities: unitFeatures(u.config).ssads ? BigInt(IOMMU_HW_CAP_DIRTY_TRACKING) : 0n,
      maxPasidLog2: vtdDriver.maxPasidLog2(root, dev),
    };
  },

  reservedRegions(): readonly ReservedRange[] {
    return reservedRegions().map((r) => ({ start: r.start, last: r.start + r.length - 1n }));
  },
  allocNested: vtdAllocNested,
  userInvalidate: vtdUserInvalidate,

  /** hw-vtd's count of the second-stage tables the maps allocate (`mapTablePages`: pfn_to_dma_pte()'s). */
  mapTablePages(root, ref, areas): number {
    const u = root.vtd?.units.get(ref.unit);
    return u === undefined ? 0 : mapTablePages(u, ref.domain, areas);
  },

  // The unit's frame allocator: its free list plus the never-allocated tail.
  tableFramesFree(root, ref): number {
    const u = root.vtd?.units.get(ref.unit);
    return u === undefined ? Number.POSITIVE_INFINITY : framesAvailable(u);
  },

  mapTableBound,

  translate(root, dev, pasid, iova, access): Translation | Errno {
    const r = translate(root as unknown as VtdRoot, dev.unit, {
      rid: dev.rid,
      ...(pasid === 0 ? {} : { pasid }),
      iova,
      length: 1,
      write: access.write,
      ...(access.privileged === undefined ? {} : { privileged: access.privileged }),
      ...(access.exec === undefined ? {} : { exec: access.exec }),
    });
    if (isErrno(r)) return r;
    if (r.kind === "ok") return { kind: "ok", pa: r.runs[0]!.pa };
    return { kind: "fault", reason: r.reason, addr: r.addr, pageRequest: r.pageRequest };
  },

  // intel_page_response(): a page group response descriptor through the invalidation queue.
  pageResponse(root, g, code): Decided {
    const descriptors = root.vtd === undefined ? undefined : vtdResponseBytes(root.vtd, g, code);
    if (descriptors === undefined) return [];
    return [{ type: "vtd.qi.executed", data: { unit: g.source.unit, descriptors } }];
  },
};
