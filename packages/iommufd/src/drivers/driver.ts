/**
 * The IOMMU driver interface iommufd drives (Linux `struct iommu_ops` and
 * `struct iommu_domain_ops`, as far as iommufd uses them): allocate and
 * free paging domains, attach and detach devices, report hw info and
 * reserved regions. Every operation is decide-side: it checks against the
 * current root and returns the events the hardware slice evolves on (or
 * Linux's errno), marking each fallible step with `ctx.step`.
 *
 * What a driver does NOT do here: map and unmap. A hardware domain follows
 * its IOAS through iopt's `ioas.*` events (see follow.ts), so map/unmap
 * cannot fail after decide; the domain's `DomainDescriptor` (IO page size,
 * aperture) lets iopt refuse what the hardware could not map.
 */
import type { DecideContext } from "@iommu-sim/eventlog";
import type { SmmuState } from "@iommu-sim/hw-smmu";
import type { VtdState } from "@iommu-sim/hw-vtd";
import type { DomainDescriptor } from "@iommu-sim/iopt";
import type { Errno } from "@iommu-sim/uapi";
import type { IommufdRoot } from "../root";
import type { HwDomainRef } from "../state";

/** Events decided for other slices (hardware, iopt) or iommufd's own. */
export type Decided = { type: string; data: unknown }[];

/** The root a driver reads: iommufd's plus the hardware slices (absent when not composed). */
export interface HwRoot extends IommufdRoot {
  readonly vtd?: VtdState;
  readonly smmu?: SmmuState;
}

/** Driver names: the hardware packages. (The selftest mock keeps its own path, selftest/.) */
export type DriverKind = HwDomainRef["driver"];

/**
 * A platform device as its driver sees it (Linux `struct device` +
 * `dev_iommu`): where it sits and what it can do.
 */
export interface DeviceInfo {
  /** Platform device name. */
  readonly name: string;
  readonly driver: DriverKind;
  /** VT-d unit / SMMU instance number: the index of its IOMMU among the platform's units of that kind. */
  readonly unit: number;
  /** PCI requester id (bus << 8 | dev << 3 | fn); the SMMU StreamID of a PCI device is its RID. */
  readonly rid: number;
  /** IOMMU group number: devices of a group are owned by one context at a time. */
  readonly group: number;
  /** PASID capability width in bits; 0 without the capability. */
  readonly pasidBits: number;
  readonly ats: boolean;
  readonly pri: boolean;
}

/** `IOMMU_GET_HW_INFO`'s answer for a device (Linux `iommufd_get_hw_info`). */
export interface HwInfo {
  /** enum iommu_hw_info_type: IOMMU_HW_INFO_TYPE_INTEL_VTD (1) / _ARM_SMMUV3 (2). */
  readonly type: number;
  /** The driver's struct (iommu_hw_info_vtd: 24 bytes; iommu_hw_info_arm_smmuv3: 40 bytes). */
  readonly data: Uint8Array;
  /** IOMMU_HW_CAP_* bits. */
  readonly capabilities: bigint;
  /** log2 of the PASIDs the device may use (min of device and IOMMU width); 0 without PASID. */
  readonly maxPasidLog2: number;
}

/** A paging domain allocated in decide: its events (hardware allocation + `iommufd.hw_domain.bound`) and iopt's view of it. */
export interface AllocatedDomain {
  readonly events: Decided;
  readonly descriptor: DomainDescriptor;
}

/**
 * The driver data of IOMMU_HWPT_ALLOC (Linux `struct iommu_user_data`):
 * `data_type`, `data_len` and the bytes copied from `data_uptr`
 * (`bytes` absent: they could not be read — EFAULT where the driver copies them).
 */
export interface UserData {
  readonly type: number;
  readonly len: number;
  readonly bytes?: Uint8Array;
}

/**
 * The entry array of IOMMU_HWPT_INVALIDATE (Linux `struct
 * iommu_user_data_array`): `entryNum` entries of `entryLen` bytes of
 * `type`; `data` holds the bytes copied from `data_uptr` — fewer than
 * entryLen × entryNum when user memory ended (EFAULT at the first entry
 * not fully copied).
 */
export interface UserDataArray {
  readonly type: number;
  readonly entryLen: number;
  readonly entryNum: number;
  readonly data: Uint8Array;
}

/**
 * The outcome of a driver's `cache_invalidate_user`: the events of the
 * entries processed, how many (`entry_num` written back), and the error
 * that stopped processing at entry `handled`, if any.
 */
export interface UserInvalidation {
  readonly events: Decided;
  readonly handled: number;
  readonly error?: Errno;
}

/** An inclusive reserved IOVA range (bytes). */
export interface ReservedRange {
  readonly start: bigint;
  readonly last: bigint;
}

/** One hardware IOMMU driver. Every function is pure; none writes state. */
export interface IommuDriver {
  readonly kind: DriverKind;
  /**
   * IOMMU_HWPT_ALLOC_* flags the driver's `domain_alloc_paging_flags()`
   * accepts on this unit; others → EOPNOTSUPP.
   */
  pagingFlags(root: HwRoot, unit: number): number;
  /**
   * Allocate a paging domain on `unit` for global domain id `kobj`
   * (NEST_PARENT / DIRTY_TRACKING from `flags`). Errors: ENODEV no unit;
   * the hardware package's (EOPNOTSUPP, ENOSPC, ENOMEM at its fault points).
   */
  allocPaging(
    root: HwRoot,
    unit: number,
    kobj: number,
    flags: number,
    ctx: DecideContext,
  ): AllocatedDomain | Errno;
  /** Free a domain no device uses any more (after iopt detached it). Cannot fail. */
  freeDomain(root: HwRoot, ref: HwDomainRef, kobj: number): Decided;
  /**
   * Attach `dev` at `pasid` (0 = its RID, requests without PASID) to
   * domain `ref`, replacing what was attached there. Errors: the
   * hardware's (EINVAL: a PASID the unit cannot take, a PASID on an SMMU
   * stage-2 domain; ENOMEM at table allocations).
   */
  attachDevice(
    root: HwRoot,
    ref: HwDomainRef,
    dev: DeviceInfo,
    pasid: number,
    ctx: DecideContext,
  ): Decided | Errno;
  /** Detach `dev` at `pasid` (blocking: no translation there). Cannot fail. */
  detachDevice(root: HwRoot, dev: DeviceInfo, pasid: number): Decided;
  /**
   * log2 of the PASIDs `dev` may use: min(its PCI PASID width, the IOMMU's)
   * — Linux `dev->iommu->max_pasids`; 0 without PASID or without its unit.
   */
  maxPasidLog2(root: HwRoot, dev: DeviceInfo): number;
  /** IOMMU_GET_HW_INFO for `dev`, or undefined when its unit is missing. */
  hwInfo(root: HwRoot, dev: DeviceInfo): HwInfo | undefined;
  /** The device's reserved regions (`iommu_get_resv_regions()`), which iommufd reserves in the IOAS. */
  reservedRegions(dev: DeviceInfo): readonly ReservedRange[];
  /**
   * Allocate a nested domain for global id `kobj` over the NEST_PARENT
   * paging domain `parent` from user data `data` (Linux
   * `ops->domain_alloc_nested`); `flags` are the HWPT flags iommufd passes
   * on. Returns the hardware package's events + `iommufd.hw_domain.bound`.
   * Errors: the driver's (EOPNOTSUPP wrong data type or flags, EINVAL,
   * EFAULT, EIO from the data; ENOMEM/ENOSPC at its fault points).
   * Absent: the driver cannot nest (EOPNOTSUPP).
   */
  allocNested?(
    root: HwRoot,
    parent: HwDomainRef,
    dev: DeviceInfo,
    kobj: number,
    flags: number,
    data: UserData,
    ctx: DecideContext,
  ): Decided | Errno;
  /**
   * IOMMU_HWPT_INVALIDATE on nested domain `ref` (Linux
   * `domain->ops->cache_invalidate_user`): entries processed in order,
   * stopping at the first error. Absent: EOPNOTSUPP (as Linux's
   * SMMUv3 nested domains, invalidated through the vIOMMU instead).
   */
  userInvalidate?(root: HwRoot, ref: HwDomainRef, array: UserDataArray, ctx: DecideContext): UserInvalidation;
}
