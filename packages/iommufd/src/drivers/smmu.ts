/**
 * The ARM SMMUv3 driver behind iommufd (Linux
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c): paging domains
 * (`arm_smmu_domain_alloc_paging_flags()`: stage 1 with an ASID, stage 2
 * with a VMID for NEST_PARENT), RID attach (`arm_smmu_attach_dev()`: CD
 * table + STE, CFGI + SYNC), detach to the blocking domain,
 * `iommu_hw_info_arm_smmuv3` (`arm_smmu_hw_info()`) and the software MSI
 * window (`arm_smmu_get_resv_regions()`). Checks and fault points are
 * hw-smmu's own: this adapter asks its decider.
 */
import type { DecideContext } from "@iommu-sim/eventlog";
import {
  framesAvailable,
  hwInfoBytes,
  mapTableBound,
  mapTablePages,
  reservedRegions,
  type SmmuInstance,
  type SmmuRoot,
  smmuSubsystem,
  translate,
} from "@iommu-sim/hw-smmu";
import {
  type Errno,
  errno,
  IOMMU_HW_INFO_TYPE_ARM_SMMUV3,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
  isErrno,
  type SmmuCommand,
} from "@iommu-sim/uapi";
import { smmuResponseCmd } from "../fault/hw-response";
import type {
  AllocatedDomain,
  Decided,
  HwInfo,
  HwRoot,
  IommuDriver,
  ReservedRange,
  Translation,
} from "./driver";
import { smmuAllocNested } from "./smmu-nested";

/** Linux PAGING_FLAGS of arm_smmu_domain_alloc_paging_flags(). */
const SMMU_PAGING_FLAGS =
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_PASID | IOMMU_HWPT_ALLOC_NEST_PARENT;

/** Input address bits of the model's domains (`SmmuDomain.iaBits`: Linux's ias of a 48-bit VA, no FEAT_VAX). */
const SMMU_IA_BITS = 48;

function instanceOf(root: HwRoot, unit: number): SmmuInstance | Errno {
  return root.smmu?.instances.get(unit) ?? errno("ENODEV", `no SMMU instance ${unit}`);
}

/** Run hw-smmu's decider on one command (its checks and fault points). */
function decideSmmu(root: HwRoot, command: SmmuCommand, ctx: DecideContext): Decided | Errno {
  const r = smmuSubsystem.decide(root.smmu!, command, { step: ctx.step, root: root as unknown as SmmuRoot });
  return isErrno(r) ? r : [...r];
}

/**
 * iopt's view of an SMMU paging domain: 4 KiB IO pages (the 4 KiB
 * granule), aperture [0, 2^48 − 1], pgsize_bitmap 4K | 2M | 1G (Linux
 * arm-smmu-v3.c arm_smmu_device_hw_probe(): IDR5.GRAN4K → SZ_4K | SZ_2M |
 * SZ_1G, the page and the two block sizes of the 4 KiB granule).
 */
export function smmuDomainDescriptor(kobj: number) {
  return {
    id: kobj,
    ioPageSize: 4096,
    apertureStart: 0n,
    apertureLast: (1n << BigInt(SMMU_IA_BITS)) - 1n,
    pgsizeBitmap: 0x4020_1000n,
  };
}

/** The SMMUv3 driver. */
export const smmuDriver: IommuDriver = {
  kind: "smmu",
  userPasidTable: true,
  pagingFlags: () => SMMU_PAGING_FLAGS,

  allocPaging(root, unit, kobj, flags, ctx): AllocatedDomain | Errno {
    const inst = instanceOf(root, unit);
    if (isErrno(inst)) return inst;
    // Dirty tracking needs HTTU (ARM_SMMU_FEAT_HD), which the model does not implement.
    if (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING)
      return errno("EOPNOTSUPP", "no hardware dirty-bit management (HTTU) on this SMMU");
    const kind = flags & IOMMU_HWPT_ALLOC_NEST_PARENT ? "s2" : "s1";
    const events = decideSmmu(root, { type: "smmu.domain.alloc", data: { instance: unit, kind } }, ctx);
    if (isErrno(events)) return events;
    const domain = (events[0]!.data as { domain: number }).domain;
    events.push({ type: "iommufd.hw_domain.bound", data: { kobj, driver: "smmu", unit, domain } });
    return { events, descriptor: smmuDomainDescriptor(kobj) };
  },

  freeDomain(_root, ref, kobj): Decided {
    return [
      { type: "smmu.domain.freed", data: { instance: ref.unit, domain: ref.domain } },
      { type: "iommufd.hw_domain.unbound", data: { kobj } },
    ];
  },

  attachDevice(root, ref, dev, pasid, ctx): Decided | Errno {
    const inst = instanceOf(root, ref.unit);
    if (isErrno(inst)) return inst;
    return decideSmmu(
      root,
      {
        type: "smmu.domain.attach",
        data: {
          instance: ref.unit,
          domain: ref.domain,
          sid: dev.rid,
          ...(pasid === 0 ? {} : { ssid: pasid }),
          // arm_smmu_ats_supported(): the device's ATS and the SMMU's.
          ats: dev.ats && inst.features.ats,
          ssidBits: Math.min(dev.pasidBits, inst.features.ssidBits),
        },
      },
      ctx,
    );
  },

  detachDevice(_root, dev, pasid): Decided {
    const ssid = pasid === 0 ? {} : { ssid: pasid };
    return [{ type: "smmu.domain.detached", data: { instance: dev.unit, sid: dev.rid, ...ssid } }];
  },

  maxPasidLog2(root, dev): number {
    // smmu->iommu.max_pasids = 1 << ssid_bits, capped by the device's PASID width.
    const inst = root.smmu?.instances.get(dev.unit);
    return inst === undefined ? 0 : Math.min(dev.pasidBits, inst.features.ssidBits);
  },

  hwInfo(root, dev): HwInfo | undefined {
    const inst = root.smmu?.instances.get(dev.unit);
    if (inst === undefined) return undefined;
    return {
      type: IOMMU_HW_INFO_TYPE_ARM_SMMUV3,
      data: hwInfoBytes(inst.regs),
      capabilities: 0n,
      maxPasidLog2: smmuDriver.maxPasidLog2(root, dev),
    };
  },

  reservedRegions(): readonly ReservedRange[] {
    return reservedRegions().map((r) => ({ start: r.start, last: r.start + r.length - 1n }));
  },
  // No userInvalidate: SMMUv3 nested domains are invalidated through a vIOMMU (not modelled).
  allocNested: smmuAllocNested,

  /** hw-smmu's count of the tables the maps allocate (`mapTablePages`: __arm_lpae_map()'s). */
  mapTablePages(root, ref, areas): number {
    return root.smmu === undefined ? 0 : mapTablePages(root.smmu, ref.unit, ref.domain, areas);
  },

  // The instance's free list and what is left of its bump allocator's tail.
  tableFramesFree(root, ref): number {
    const inst = root.smmu?.instances.get(ref.unit);
    return inst === undefined ? Number.POSITIVE_INFINITY : framesAvailable(inst);
  },

  mapTableBound,

  translate(root, dev, pasid, iova, access): Translation | Errno {
    if (root.smmu === undefined) return errno("ENODEV", `no SMMU instance ${dev.unit}`);
    const r = translate(root as unknown as SmmuRoot, dev.unit, {
      sid: dev.rid,
      ...(pasid === 0 ? {} : { ssid: pasid }),
      iova,
      length: 1,
      write: access.write,
      ...(access.privileged === undefined ? {} : { privileged: access.privileged }),
    });
    if (r === undefined) return errno("ENODEV", `no SMMU instance ${dev.unit}`);
    if (r.ok) return { kind: "ok", pa: BigInt(r.runs[0]!.pa) };
    // No record: an STE abort terminates the transaction (F_TRANSLATION's 0x10 would be recorded).
    return { kind: "fault", reason: r.fault?.id ?? "abort", addr: r.at, pageRequest: r.pageRequest };
  },

  // arm_smmu_page_response(): CMD_PRI_RESP through the command queue.
  pageResponse(root, g, code): Decided {
    if (root.smmu === undefined) return [];
    const r = smmuSubsystem.decide(
      root.smmu,
      { type: "smmu.cmdq.submit", data: { instance: g.source.unit, cmds: [smmuResponseCmd(g, code)] } },
      { step: () => undefined, root: root as unknown as SmmuRoot },
    );
    return isErrno(r) ? [] : [...r];
  },
};
