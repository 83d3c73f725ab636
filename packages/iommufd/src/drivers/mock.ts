/**
 * The iommufd selftest's mock IOMMU driver (Linux
 * drivers/iommu/iommufd/selftest.c `mock_ops`, `domain_ops`,
 * `domain_nested_ops`) behind the same `IommuDriver` interface as VT-d and
 * SMMUv3:
 * - paging domains (`mock_domain_alloc_paging_flags()`): 2 KiB IO pages
 *   (MOCK_IO_PAGE_SIZE = PAGE_SIZE / 2), aperture [MOCK_APERTURE_START,
 *   MOCK_APERTURE_LAST] = [2^24, 2^31 − 1], one u64 per IO page in iopt's
 *   mock-domain subsystem (root key `mockDomain`), which follows the IOAS
 *   the domain is attached to (`mock_domain_map_pages()` /
 *   `mock_domain_unmap_pages()`) and allocates no table pages;
 * - nested domains over a NEST_PARENT mock domain from
 *   `iommu_hwpt_selftest` (`mock_domain_alloc_nested()`) and their user
 *   invalidation (`mock_domain_cache_invalidate_user()`), selftest/nested.ts;
 * - vIOMMUs of type IOMMU_VIOMMU_TYPE_SELFTEST (`mock_viommu_init()`),
 *   their nested domains and invalidation, selftest/viommu.ts;
 * - attach and detach program nothing (`mock_domain_nop_attach()`,
 *   `mock_domain_set_dev_pasid_nop()`, with their refusals);
 * - hw info `iommu_test_hw_info` (`mock_domain_hw_info()`), dirty tracking
 *   unless MOCK_FLAGS_DEVICE_NO_DIRTY (`mock_domain_capable()`);
 * - translation through the mock IO page table
 *   (`mock_domain_iova_to_phys()`), page responses that do nothing
 *   (`mock_domain_page_response()`).
 */
import type { DecideContext } from "@iommu-sim/eventlog";
import { MOCK_IO_PAGE, mockDomainDescriptor, readMockPte } from "@iommu-sim/iopt";
import {
  type Errno,
  errno,
  IOMMU_HW_CAP_DIRTY_TRACKING,
  IOMMU_HW_INFO_SELFTEST_REGVAL,
  IOMMU_HW_INFO_TYPE_SELFTEST,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_TEST_PASID_RESERVED,
  MOCK_FLAGS_DEVICE_NO_DIRTY,
} from "@iommu-sim/uapi";
import { mockHwQueueInit, mockHwQueueTypeSupported } from "../selftest/hw-queue";
import { decideMockNestedAlloc, mockNestedInvalidate } from "../selftest/nested";
import {
  mockViommuAllocNested,
  mockViommuInit,
  mockViommuInvalidate,
  mockViommuTypeSupported,
} from "../selftest/viommu";
import type { HwDomainRef } from "../state";
import { vdeviceOfDevice } from "../vdevice";
import type {
  AllocatedDomain,
  Decided,
  DeviceInfo,
  DmaAccess,
  HwInfo,
  HwRoot,
  IommuDriver,
  ReservedRange,
  Translation,
  UserData,
  UserDataArray,
  UserInvalidation,
} from "./driver";

/** Flags `mock_domain_alloc_paging_flags()` accepts (its PAGING_FLAGS). */
const MOCK_PAGING_FLAGS =
  IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_PASID;

/** `struct iommu_test_hw_info {u32 flags = 0; u32 test_reg = IOMMU_HW_INFO_SELFTEST_REGVAL}` (8 bytes). */
function testHwInfoBytes(): Uint8Array {
  const data = new Uint8Array(8);
  new DataView(data.buffer).setUint32(4, IOMMU_HW_INFO_SELFTEST_REGVAL, true);
  return data;
}

/** The HWPT id mock device `dev` has at `pasid`: the device object's for the RID, its selftest object's for a PASID. */
function attachedHwpt(root: HwRoot, dev: DeviceInfo, pasid: number): number | undefined {
  const m = dev.mock;
  const c = m === undefined ? undefined : root.iommufd.contexts[m.ctx];
  if (m === undefined || c === undefined) return undefined;
  if (pasid === 0) return c.objects[m.id]?.refs[0];
  for (const k in c.objects) {
    const o = c.objects[k]!;
    if (o.type === "selftest" && o.refs[0] === m.id)
      return o.attachments?.find((a) => a.pasid === pasid)?.hwpt;
  }
  return undefined;
}

/**
 * The mock paging domain (global id) translating for HWPT `hwptId` of the
 * device's context: the HWPT's own, or a nested HWPT's parent's — a mock
 * nested domain has no table of its own (`struct mock_iommu_domain_nested`
 * holds only an IOTLB), so its stage 1 is the identity.
 */
function pagingDomainOf(root: HwRoot, dev: DeviceInfo, hwptId: number): number | undefined {
  const kobj = root.iommufd.contexts[dev.mock!.ctx]?.objects[hwptId]?.kobj;
  if (kobj === undefined) return undefined;
  return root.iommufd.mockNested?.[kobj]?.parent ?? kobj;
}

const IO_PAGE = BigInt(MOCK_IO_PAGE);

/** A mock translation fault at `iova`'s IO page. */
function mockFault(reason: string, iova: bigint): Translation {
  return { kind: "fault", reason, addr: iova - (iova % IO_PAGE), pageRequest: false };
}

/**
 * `mock_domain_iova_to_phys()` for a DMA of `dev` at `pasid`: "blocked"
 * with nothing attached, "not-present" for an unmapped IO page,
 * "permission" for a write to a read-only page or a read of a write-only one.
 */
function mockTranslate(root: HwRoot, dev: DeviceInfo, pasid: number, iova: bigint, access: DmaAccess) {
  const hwpt = attachedHwpt(root, dev, pasid);
  const kobj = hwpt === undefined ? undefined : pagingDomainOf(root, dev, hwpt);
  const table = kobj === undefined ? undefined : root.mockDomain?.domains.get(kobj)?.table;
  if (table === undefined) return mockFault("blocked", iova);
  const pte = readMockPte(table, Number(iova / IO_PAGE));
  if (pte === undefined) return mockFault("not-present", iova);
  if ((pte.prot & (access.write ? 2 : 1)) === 0) return mockFault("permission", iova);
  return { kind: "ok", pa: BigInt(pte.pa) + (iova % IO_PAGE) } as const;
}

/** Whether mock domain `ref` has dirty_ops: its HWPT was allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING. */
function hasDirtyOps(root: HwRoot, dev: DeviceInfo, ref: HwDomainRef): boolean {
  const c = root.iommufd.contexts[dev.mock?.ctx ?? -1];
  if (c === undefined) return false;
  for (const k in c.objects) {
    const o = c.objects[k]!;
    if (o.kobj === ref.domain && o.type === "hwpt_paging")
      return ((o.flags ?? 0) & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) !== 0;
  }
  return false;
}

/**
 * `iommufd_viommu_get_vdev_id()` for a RID attach of `dev` to mock domain
 * `ref`: when it is a nested domain allocated on a vIOMMU, the device
 * needs its vDEVICE on that vIOMMU — ENOENT otherwise.
 */
function checkViommuVdev(root: HwRoot, ref: HwDomainRef, dev: DeviceInfo): Errno | undefined {
  const viommu = root.iommufd.mockNested?.[ref.domain]?.viommu;
  if (viommu === undefined || dev.mock === undefined) return undefined;
  const c = root.iommufd.contexts[dev.mock.ctx]!;
  const vdev = vdeviceOfDevice(c, dev.mock.id);
  // The vDEVICE's refs[0] is its vIOMMU; the domain names the vIOMMU by its kobj.
  if (vdev === undefined || c.objects[vdev.refs[0]!]?.kobj !== viommu)
    return errno("ENOENT", "the device has no vDEVICE on the domain's vIOMMU");
  return undefined;
}

/**
 * Attach mock device `dev` at `pasid` to mock domain `ref`: nothing to
 * program; iommufd records the attachment. Errors (Linux's mock):
 * EINVAL a RID attach of a MOCK_FLAGS_DEVICE_NO_DIRTY device to a domain
 * with dirty tracking, ENOENT a RID attach to a nested domain of a vIOMMU
 * on which the device has no vDEVICE (`mock_domain_nop_attach()`); ENOMEM
 * a second attach (a replace) at PASID IOMMU_TEST_PASID_RESERVED (1024),
 * its fake error (`mock_domain_set_dev_pasid_nop()`).
 */
function mockAttach(root: HwRoot, ref: HwDomainRef, dev: DeviceInfo, pasid: number): Decided | Errno {
  if (pasid === 0) {
    if ((dev.mock?.flags ?? 0) & MOCK_FLAGS_DEVICE_NO_DIRTY && hasDirtyOps(root, dev, ref))
      return errno("EINVAL", "a NO_DIRTY mock device cannot use a dirty-tracking domain");
    return checkViommuVdev(root, ref, dev) ?? [];
  }
  if (pasid === IOMMU_TEST_PASID_RESERVED && attachedHwpt(root, dev, pasid) !== undefined)
    return errno("ENOMEM", "the mock driver fails replaces at PASID 1024");
  return [];
}

/** The selftest mock driver. */
export const mockDriver: IommuDriver = {
  kind: "mock",
  userPasidTable: true,
  pagingFlags: () => MOCK_PAGING_FLAGS,

  allocPaging(_root, _unit, kobj, _flags, ctx: DecideContext): AllocatedDomain | Errno {
    // The kzalloc of struct mock_iommu_domain.
    const fail = ctx.step("selftest.domain_alloc", "ENOMEM");
    if (fail) return fail;
    return {
      events: [{ type: "iopt.mock.allocated", data: { domain: kobj } }],
      descriptor: mockDomainDescriptor(kobj),
    };
  },

  freeDomain(root, _ref: HwDomainRef, kobj): Decided {
    if (root.iommufd.mockNested?.[kobj] !== undefined)
      return [{ type: "iommufd.mock_nested.freed", data: { kobj } }];
    return [{ type: "iopt.mock.freed", data: { domain: kobj } }];
  },

  attachDevice: mockAttach,
  // The blocking domain's attach: nothing to program.
  detachDevice: (): Decided => [],

  maxPasidLog2: (_root, dev) => dev.pasidBits,

  hwInfo(_root, dev): HwInfo {
    const flags = dev.mock?.flags ?? 0;
    return {
      type: IOMMU_HW_INFO_TYPE_SELFTEST,
      data: testHwInfoBytes(),
      capabilities: flags & MOCK_FLAGS_DEVICE_NO_DIRTY ? 0n : BigInt(IOMMU_HW_CAP_DIRTY_TRACKING),
      maxPasidLog2: dev.pasidBits,
    };
  },

  /**
   * None: the model follows the mock of Linux ≤ 6.12, before
   * `mock_dev_get_resv_regions()`. (Its later SW_MSI window at
   * 0x8000_0000 lies above MOCK_APERTURE_LAST, in the IOVA iopt already
   * reserves for every mock domain.)
   */
  reservedRegions: (): readonly ReservedRange[] => [],

  allocNested(_root, parent, _dev, kobj, _flags, data: UserData, ctx): Decided | Errno {
    return decideMockNestedAlloc(parent.domain, kobj, data, ctx);
  },

  userInvalidate(_root, ref, array: UserDataArray): UserInvalidation {
    return mockNestedInvalidate(ref.domain, array);
  },

  viommuTypeSupported: (_dev, type) => mockViommuTypeSupported(type),
  viommuInit: (_root, _viommu, data) => mockViommuInit(data),
  viommuAllocNested: (_root, viommu, kobj, flags, data, ctx) =>
    mockViommuAllocNested(viommu, kobj, flags, data, ctx),
  viommuInvalidate: mockViommuInvalidate,
  hwQueueTypeSupported: (_viommu, type) => mockHwQueueTypeSupported(type),
  hwQueueInit: mockHwQueueInit,

  // mock_domain_map_pages() writes a flat xarray: no page-table pages to allocate.
  mapTablePages: () => 0,
  tableFramesFree: () => Number.POSITIVE_INFINITY,
  mapTableBound: () => 0,

  translate: mockTranslate,

  // mock_domain_page_response(): nothing reaches any hardware.
  pageResponse: (): Decided => [],
};
