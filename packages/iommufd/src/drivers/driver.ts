/**
 * The IOMMU driver interface iommufd drives (Linux `struct iommu_ops` and
 * `struct iommu_domain_ops`, as far as iommufd uses them), implemented by
 * VT-d (vtd.ts), SMMUv3 (smmu.ts) and the selftest mock (mock.ts):
 * capabilities and hw info, paging and nested domain allocation, attach
 * and detach, the table pages a map allocates, user-requested cache
 * invalidation, translation of a DMA request, reserved regions and page
 * responses. Every operation is decide-side: it checks against the
 * current root and returns the events the domain's slice evolves on (or
 * Linux's errno), marking each fallible step with `ctx.step`.
 *
 * Map and unmap themselves are not calls: a domain follows its IOAS
 * through iopt's `ioas.*` events in evolve (follow.ts; the mock's
 * mock-domain subsystem in iopt), so they cannot fail after decide. What
 * can fail in Linux's `iommu_map()` — aperture (the domain's
 * `DomainDescriptor`, checked by iopt) and table-page allocation — is
 * decided before (map-steps.ts): `mapTablePages` gives one
 * `<driver>.pt_alloc` fault point per page, and `tableFramesFree` with
 * `mapTableBound` refuse with ENOMEM a map the unit's table memory cannot
 * hold (table-budget.ts).
 */
import type { DecideContext } from "@iommu-sim/eventlog";
import type { SmmuState } from "@iommu-sim/hw-smmu";
import type { VtdState } from "@iommu-sim/hw-vtd";
import type { DomainDescriptor, MockDomainState } from "@iommu-sim/iopt";
import type { Errno } from "@iommu-sim/uapi";
import type { GroupTail } from "../fault/hw-response";
import type { IommufdRoot } from "../root";
import type { HwDomainRef } from "../state";
import type { AreaMap } from "./follow";

/** Events decided for other slices (hardware, iopt) or iommufd's own. */
export type Decided = { type: string; data: unknown }[];

/** The root a driver reads: iommufd's plus the domain slices (absent when not composed). */
export interface HwRoot extends IommufdRoot {
  readonly vtd?: VtdState;
  readonly smmu?: SmmuState;
  /** The selftest mock's IO page tables (iopt's mock-domain subsystem). */
  readonly mockDomain?: MockDomainState;
}

/** Driver names: the hardware packages and the selftest mock. */
export type DriverKind = HwDomainRef["driver"];

/**
 * A device as its driver sees it (Linux `struct device` + `dev_iommu`):
 * where it sits and what it can do — a platform device (devices.ts
 * `deviceInfo`) or a selftest mock device (`mockDeviceInfo`: driver
 * "mock", unit 0, RID 0).
 */
export interface DeviceInfo {
  /** Platform device name (a mock device: `mock-dev-<ctx>-<object id>`). */
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
  /**
   * A selftest mock device (IOMMU_TEST_OP_MOCK_DOMAIN): its context, device
   * object id and MOCK_FLAGS_DEVICE_* flags. Absent for platform devices.
   */
  readonly mock?: { readonly ctx: number; readonly id: number; readonly flags: number };
}

/** `IOMMU_GET_HW_INFO`'s answer for a device (Linux `iommufd_get_hw_info`). */
export interface HwInfo {
  /** enum iommu_hw_info_type: IOMMU_HW_INFO_TYPE_INTEL_VTD (1) / _ARM_SMMUV3 (2) / _SELFTEST (0xfeedbeef). */
  readonly type: number;
  /** The driver's struct (iommu_hw_info_vtd: 24 bytes; iommu_hw_info_arm_smmuv3: 40 bytes; iommu_test_hw_info: 8 bytes). */
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

/**
 * A vIOMMU as its driver sees it (Linux `struct iommufd_viommu`): where it
 * lives (context and object id, for the vDEVICEs of its `vdevs` table),
 * its global id, its type and its nesting parent's domain (the stage 2,
 * `viommu->hwpt->common.domain`).
 */
export interface ViommuRef {
  readonly ctx: number;
  /** The vIOMMU's object id in `ctx`. */
  readonly id: number;
  /** The vIOMMU's global id (its object's kobj). */
  readonly kobj: number;
  /** enum iommu_viommu_type (IOMMU_VIOMMU_TYPE_SELFTEST for the mock). */
  readonly type: number;
  /** The NEST_PARENT paging domain behind it. */
  readonly parent: HwDomainRef;
}

/**
 * What a driver's `viommu_init` decides: its events, and the bytes it
 * copies back to the user data (`iommu_copy_struct_to_user()`), if any.
 */
export interface ViommuInit {
  readonly events: Decided;
  /** Written back at data_uptr (data_len bytes). */
  readonly dataOut?: Uint8Array;
}

/** What a driver's `hw_queue_init_phys` decides: the queue the new one depends on, if any. */
export interface HwQueueInit {
  readonly dependsOn?: number;
}

/** The access of a DMA request (Linux `IOMMU_READ`/`IOMMU_WRITE`, PCIe PASID prefix Exe/Priv bits). */
export interface DmaAccess {
  readonly write: boolean;
  readonly privileged?: boolean;
  readonly exec?: boolean;
}

/**
 * The outcome of translating one byte of a DMA request: the physical
 * address (bytes) it reaches, or the fault the IOMMU raises — `reason` in
 * the driver's own terms (VT-d fault reason, SMMU event id, the mock's
 * "not-present"/"permission"/"blocked"), `addr` the faulting IOVA's page
 * (bytes), `pageRequest` when the device resolves it with a page request.
 */
export type Translation =
  | { readonly kind: "ok"; readonly pa: bigint }
  | {
      readonly kind: "fault";
      readonly reason: number | string;
      readonly addr: bigint;
      readonly pageRequest: boolean;
    };

/** An inclusive reserved IOVA range (bytes). */
export interface ReservedRange {
  readonly start: bigint;
  readonly last: bigint;
}

/** One IOMMU driver. Every function is pure; none writes state. */
export interface IommuDriver {
  readonly kind: DriverKind;
  /**
   * Linux `iommu_ops.user_pasid_table`: the guest owns the PASID/CD table
   * behind a nested RID attachment, so a page request at a PASID not
   * attached on its own goes through the RID's nested HWPT (the mock and
   * SMMUv3; VT-d attaches PASIDs one by one).
   */
  readonly userPasidTable: boolean;
  /**
   * IOMMU_HWPT_ALLOC_* flags the driver's `domain_alloc_paging_flags()`
   * accepts on this unit; others → EOPNOTSUPP.
   */
  pagingFlags(root: HwRoot, unit: number): number;
  /**
   * Allocate a paging domain on `unit` for global domain id `kobj`
   * (NEST_PARENT / DIRTY_TRACKING from `flags`; Linux
   * `domain_alloc_paging_flags()`): the domain slice's events (hardware:
   * + `iommufd.hw_domain.bound`; the mock: `iopt.mock.allocated`) and
   * iopt's `DomainDescriptor`. Errors: ENODEV no unit; the driver's
   * (EOPNOTSUPP, ENOSPC, ENOMEM at its fault points, e.g.
   * `vtd.pgd_alloc`, `selftest.domain_alloc`).
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
  /**
   * Linux `iommu_ops.get_viommu_size(dev, type)` ≠ 0: the driver
   * implements vIOMMU type `type` for `dev`. Absent together with
   * `viommuInit`: the driver has no vIOMMU (`get_viommu_size`/`viommu_init`
   * NULL). Either way iommufd answers EOPNOTSUPP (viommu.c
   * iommufd_viommu_alloc_ioctl()).
   */
  viommuTypeSupported?(dev: DeviceInfo, type: number): boolean;
  /**
   * Linux `iommu_ops.viommu_init(viommu, parent_domain, user_data)`: set up
   * vIOMMU `viommu`; `data` is the user data, absent when data_len is 0.
   * Errors: the driver's (EINVAL/EFAULT copying the data).
   */
  viommuInit?(
    root: HwRoot,
    viommu: ViommuRef,
    data: UserData | undefined,
    ctx: DecideContext,
  ): ViommuInit | Errno;
  /**
   * Linux `iommufd_viommu_ops.alloc_domain_nested(viommu, flags,
   * user_data)`: a nested domain for global id `kobj` on vIOMMU `viommu`
   * (over its nesting parent); `flags` without IOMMU_HWPT_FAULT_ID_VALID.
   * Errors: the driver's (EOPNOTSUPP flags or data type, EINVAL/EFAULT
   * from the data, ENOMEM at its fault points). Absent: EOPNOTSUPP.
   */
  viommuAllocNested?(
    root: HwRoot,
    viommu: ViommuRef,
    kobj: number,
    flags: number,
    data: UserData,
    ctx: DecideContext,
  ): Decided | Errno;
  /**
   * Linux `iommufd_viommu_ops.cache_invalidate(viommu, array)`:
   * IOMMU_HWPT_INVALIDATE on a vIOMMU, entries processed in order,
   * stopping at the first error. Absent: EOPNOTSUPP.
   */
  viommuInvalidate?(
    root: HwRoot,
    viommu: ViommuRef,
    array: UserDataArray,
    ctx: DecideContext,
  ): UserInvalidation;
  /**
   * Linux `iommufd_viommu_ops.get_hw_queue_size(viommu, type)` ≠ 0: vIOMMU
   * `viommu` takes HW queues of type `type`. Absent together with
   * `hwQueueInit`: no HW queues (`hw_queue_init_phys` NULL). Either way
   * iommufd answers EOPNOTSUPP (viommu.c iommufd_hw_queue_alloc_ioctl()).
   */
  hwQueueTypeSupported?(viommu: ViommuRef, type: number): boolean;
  /**
   * Linux `iommufd_viommu_ops.hw_queue_init_phys(hw_queue, index,
   * base_addr_pa)` for a queue at `index` on vIOMMU `viommu`, its memory
   * already pinned: the object id of a queue the new one depends on
   * (`iommufd_hw_queue_depend()`: that one cannot be destroyed first), if
   * any. Errors: the driver's (the mock: EINVAL, EEXIST, EIO).
   */
  hwQueueInit?(root: HwRoot, viommu: ViommuRef, index: number): HwQueueInit | Errno;
  /**
   * How many new IO page-table pages (4 KiB each) mapping `areas` in order
   * into paging domain `ref` allocates — the allocations of Linux
   * `iommu_map()` → the driver's `map_pages` that can fail with ENOMEM
   * (VT-d `pfn_to_dma_pte()`, io-pgtable-arm `__arm_lpae_alloc_pages()`),
   * whatever the unit's table memory holds (a table an earlier area
   * creates is counted once). Under fault injection iommufd takes
   * `ctx.step("<driver>.pt_alloc", "ENOMEM")` once per page; a count above
   * `tableFramesFree` fails the command with ENOMEM (map-steps.ts). Areas
   * the domain would refuse count 0 (iopt refused them already); the mock
   * allocates none.
   */
  mapTablePages(root: HwRoot, ref: HwDomainRef, areas: readonly AreaMap[]): number;
  /**
   * 4 KiB frames left in the table memory of the unit domain `ref` lives
   * on (VT-d: hw-vtd `framesAvailable`, the free list plus the untouched
   * tail; SMMUv3: hw-smmu `framesAvailable`, the bump allocator's tail);
   * +Infinity for the mock and for a unit that is not there. A command
   * whose maps need more than this fails with ENOMEM (map-steps.ts).
   */
  tableFramesFree(root: HwRoot, ref: HwDomainRef): number;
  /**
   * A cheap upper bound of the IO page-table pages one map of `pages`
   * 4 KiB pages allocates in any of the driver's paging domains — its
   * length and the most table levels the driver builds, no walk, no state
   * (VT-d: hw-vtd `mapTableBound`, 5 levels; SMMUv3: hw-smmu
   * `mapTableBound`, levels 0–3; the mock: 0). Bounds of several maps add
   * up to a bound of their sequence. map-steps.ts counts exactly
   * (`mapTablePages`) only a unit whose bound exceeds `tableFramesFree`.
   */
  mapTableBound(pages: number): number;
  /**
   * Translate the DMA request of `dev` at `pasid` (0 = without PASID) to
   * IOVA `iova` (bytes) with `access`, through whatever is attached there
   * and the IOMMU's caches, without changing anything (VT-d spec 3.4 §3,
   * SMMUv3 IHI 0070 §3; the mock: its IO page table,
   * selftest.c `mock_domain_iova_to_phys()`). Errors: ENODEV the device's
   * unit is missing; EINVAL a request the hardware model refuses.
   */
  translate(
    root: HwRoot,
    dev: DeviceInfo,
    pasid: number,
    iova: bigint,
    access: DmaAccess,
  ): Translation | Errno;
  /**
   * Answer page request group `g` with `code` (IOMMUFD_PAGE_RESP_SUCCESS 0 /
   * INVALID 1, or IOMMU_PAGE_RESP_FAILURE 2): the driver's `page_response`
   * op as events (VT-d a page group response descriptor, SMMUv3
   * CMD_PRI_RESP; the mock nothing, `mock_domain_page_response()`).
   * Cannot fail (`iopf_group_response()` returns nothing).
   */
  pageResponse(root: HwRoot, g: GroupTail, code: number): Decided;
}
