/**
 * The iommufd slice: contexts and their object tables.
 *
 * Mirrors Linux drivers/iommu/iommufd/iommufd_private.h: `struct
 * iommufd_ctx` (an xarray of objects with XA_FLAGS_ALLOC1, the VFIO compat
 * IOAS, the accounting mode) and `struct iommufd_object` (id, type, users).
 * Users are not stored: who uses an object is derived from the objects that
 * point at it (see objects.ts), so the counts cannot drift.
 */

import type { FaultQueue } from "./fault/queue";
import type { Platform } from "./platform";
import type { VeventQueue } from "./veventq/queue";

/** How a context accounts pinned pages (Linux enum iopt_pages_account_mode). */
export type AccountMode = "user" | "mm";

/** Object types (Linux enum iommufd_object_type), as they appear in events. */
export type ObjectType =
  | "ioas"
  | "hwpt_paging"
  | "hwpt_nested"
  | "device"
  | "access"
  | "fault"
  | "viommu"
  | "vdevice"
  | "veventq"
  | "hw_queue"
  | "selftest";

/** An entry of a context's object table. `refs` lists the ids this object holds a `users` reference on. */
export interface IommufdObject {
  readonly id: number;
  readonly type: ObjectType;
  /** Ids of objects this one uses (e.g. a HWPT → its IOAS); they cannot be destroyed before it. */
  readonly refs: readonly number[];
  /** Global id of the kernel object behind it (IOAS, domain, access… in other slices), if any. */
  readonly kobj?: number;
  /**
   * Users held from outside the table, e.g. the VFIO driver that bound a
   * device keeps one until it unbinds (iommufd_device_bind()).
   */
  readonly external?: number;
  /** A HWPT that auto-domain attach created (Linux hwpt_paging->auto_domain): destroyed with its last device. */
  readonly autoDomain?: boolean;
  /** HWPT alloc flags (IOMMU_HWPT_ALLOC_*), or a mock device's MOCK_FLAGS_DEVICE_*. */
  readonly flags?: number;
  /** A device object of a platform device (VFIO_DEVICE_BIND_IOMMUFD): the device's name. */
  readonly device?: string;
  /**
   * A platform device's attachments, by PASID (0 = the RID, IOMMU_NO_PASID),
   * sorted; `refs` lists the HWPTs they use.
   */
  readonly attachments?: readonly { readonly pasid: number; readonly hwpt: number }[];
  /** A vIOMMU: its type (enum iommu_viommu_type; IOMMU_VIOMMU_TYPE_SELFTEST for the mock). */
  readonly viommuType?: number;
  /**
   * A vIOMMU: the IOMMU instance behind it (Linux `viommu->iommu_dev`), as
   * a driver key (devices.ts `driverKey`): `mock`, `vtd:<unit>`, `smmu:<instance>`.
   */
  readonly iommu?: string;
  /** A vDEVICE: its `virt_id`, the device's id on its vIOMMU as the guest sees it (vSID, vRID…). */
  readonly virtId?: bigint;
  /** A HW queue: its type (enum iommu_hw_queue_type; IOMMU_HW_QUEUE_TYPE_SELFTEST for the mock). */
  readonly queueType?: number;
  /** A HW queue: its logical index on its vIOMMU. */
  readonly queueIndex?: number;
  /** A HW queue: the IOVA (nesting_parent_iova) and length of its memory, bytes. */
  readonly iova?: bigint;
  readonly length?: bigint;
  /**
   * A selftest mock device object: its cache (`mock_dev.cache[MOCK_DEV_CACHE_NUM]`)
   * once a vIOMMU invalidation changed it; absent = every entry
   * IOMMU_TEST_DEV_CACHE_DEFAULT (`mock_dev_create()`).
   */
  readonly devCache?: readonly number[];
  /**
   * A selftest access (type "access"): the id its next item gets
   * (selftest.c staccess->next_id, from 0; ids are never reused).
   */
  readonly nextItem?: number;
}

/** One open file of /dev/iommu (Linux struct iommufd_ctx). */
export interface IommufdContext {
  readonly id: number;
  /** The process that opened it. */
  readonly pid: number;
  /** Opened as /dev/vfio/vfio (the VFIO container compat path). */
  readonly vfio: boolean;
  readonly accountMode: AccountMode;
  /** The object table, keyed by object id. */
  readonly objects: Readonly<Record<number, IommufdObject>>;
  /** The IOAS used by the VFIO compat ioctls (IOMMU_VFIO_IOAS), if set. */
  readonly vfioIoas?: number;
  /**
   * Ids of objects destroyed from under userspace (a vDEVICE whose device
   * went: Linux iommufd_object_tombstone_user() leaves XA_ZERO_ENTRY), not
   * reused until the context closes; absent: none.
   */
  readonly tombstones?: readonly number[];
}

/**
 * Which driver's domain stands behind a global domain id (a HWPT's `kobj`,
 * iopt's domain id): the driver, its unit (VT-d unit / SMMU instance
 * number; 0 for the mock) and the driver's handle (VT-d DID, SMMU domain
 * id; the mock's domains go by their global id). Only hardware domains are
 * recorded in `IommufdState.hwDomains`; a domain id absent there is the
 * mock's (devices.ts `domainRef`).
 */
export interface HwDomainRef {
  readonly driver: "vtd" | "smmu" | "mock";
  readonly unit: number;
  readonly domain: number;
}

/**
 * A selftest mock nested domain (Linux selftest.c `struct
 * mock_iommu_domain_nested`): its parent mock paging domain (global id)
 * and its mock IOTLB, MOCK_NESTED_DOMAIN_IOTLB_NUM u32 entries.
 */
export interface MockNestedDomain {
  readonly parent: number;
  readonly iotlb: readonly number[];
  /**
   * The global id (kobj) of the vIOMMU it was allocated on
   * (`mock_nested->mock_viommu`, IOMMU_HWPT_ALLOC with pt_id = a vIOMMU);
   * absent for one allocated on a NEST_PARENT HWPT.
   */
  readonly viommu?: number;
}

/** The `iommufd` slice of the root state. */
export interface IommufdState {
  /** Selftest mock nested domains by global domain id (selftest/nested.ts); absent = none yet. */
  readonly mockNested?: Readonly<Record<number, MockNestedDomain>>;
  /** The machine: its IOMMU units and the devices that can be bound (absent: mock devices only). */
  readonly platform?: Platform;
  /** Hardware domains by global domain id (see `HwDomainRef`). */
  readonly hwDomains: Readonly<Record<number, HwDomainRef>>;
  readonly contexts: Readonly<Record<number, IommufdContext>>;
  /** The next context id (contexts are never reused, like struct file pointers). */
  readonly nextContext: number;
  /** The next global id of a kernel object (IOAS, domain, access) shared with other slices. */
  readonly nextKobj: number;
  /** IO page fault queues by their fault object's kobj (fault/queue.ts); absent: none yet. */
  readonly faults?: Readonly<Record<number, FaultQueue>>;
  /** vIOMMU event queues by their vEVENTQ object's kobj (veventq/queue.ts); absent: none yet. */
  readonly veventqs?: Readonly<Record<number, VeventQueue>>;
}

/** The empty slice. */
export const INITIAL_IOMMUFD_STATE: IommufdState = Object.freeze({
  contexts: {},
  hwDomains: {},
  nextContext: 1,
  nextKobj: 1,
});
