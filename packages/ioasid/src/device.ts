/**
 * What the ioasid subsystem needs to know of a device, supplied by the
 * composition (iommufd knows the devices; this package imports no sibling).
 */

/** The PASID-relevant facts of one device (Linux: `struct pci_dev` and its IOMMU group). */
export interface PasidDevice {
  /**
   * PASID is enabled on the device and its IOMMU (pci_enable_pasid() and
   * IOMMU_DEV_FEAT_SVA / `master->sva_enabled`); without it SVA bind → ENODEV.
   */
  readonly pasidEnabled: boolean;
  /** Devices in its IOMMU group; SVA needs it alone (iommu_group_device_count() == 1, else EINVAL). */
  readonly groupSize: number;
  /** Not marked untrusted (`pci_dev->untrusted` is clear). */
  readonly trusted: boolean;
  /** Behind an external-facing port (Thunderbolt, hot-plug slot): the cause of `untrusted` in Linux. */
  readonly external: boolean;
  /** Integrated in the CPU socket (an RCiEP such as Intel DSA): "a physically trusted on-socket device". */
  readonly onSocket: boolean;
  /**
   * PASIDs the device can emit (pci_max_pasids(); SMMUv3 `1 << ssid_bits`).
   * Default: the whole platform space.
   */
  readonly maxPasids?: number;
}

/**
 * A pure device lookup: the device with requester id `rid` as the root
 * state shows it, or undefined when there is none (or it has no IOMMU group).
 */
export type DeviceLookup<R> = (root: R, rid: number) => PasidDevice | undefined;
