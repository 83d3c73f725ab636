/**
 * The platform's VFIO devices: every PCI function behind a VT-d or SMMUv3
 * unit counts as bound to vfio-pci (the model has no host drivers), so each
 * has a group node /dev/vfio/$GROUP (its IOMMU group) and a cdev
 * /dev/vfio/devices/vfioN (N = its index among the platform's devices).
 * Devices behind the selftest mock unit have neither.
 */
import { deviceInfo, type IommufdState, type PlatformDevice } from "@iommu-sim/iommufd";

/** A device VFIO serves. */
export interface VfioDevice {
  readonly name: string;
  /** Index among the platform's devices: the N of /dev/vfio/devices/vfioN. */
  readonly index: number;
  /** IOMMU group number: the N of /dev/vfio/N. */
  readonly group: number;
  /** PCI requester id, bus << 8 | dev << 3 | fn. */
  readonly rid: number;
}

function toVfioDevice(state: IommufdState, d: PlatformDevice, index: number): VfioDevice | undefined {
  if (deviceInfo(state, d.name) === undefined) return undefined;
  return { name: d.name, index, group: d.group, rid: d.rid };
}

/** Every VFIO device of the platform, in platform order. */
export function vfioDevices(state: IommufdState): VfioDevice[] {
  const out: VfioDevice[] = [];
  for (const [i, d] of (state.platform?.devices ?? []).entries()) {
    const v = toVfioDevice(state, d, i);
    if (v !== undefined) out.push(v);
  }
  return out;
}

/** The VFIO device named `name`, if any. */
export function vfioDevice(state: IommufdState, name: string): VfioDevice | undefined {
  return vfioDevices(state).find((d) => d.name === name);
}

/** The devices of IOMMU group `group` (empty: no /dev/vfio/$group node). */
export function groupDevices(state: IommufdState, group: number): VfioDevice[] {
  return vfioDevices(state).filter((d) => d.group === group);
}

/** The device of /dev/vfio/devices/vfio`index`, if any. */
export function cdevDevice(state: IommufdState, index: number): VfioDevice | undefined {
  return vfioDevices(state).find((d) => d.index === index);
}

/**
 * The device's `dev_name()`, what VFIO_GROUP_GET_DEVICE_FD matches: the PCI
 * name `DDDD:BB:DD.F` (segment 0), e.g. RID 0x300 → "0000:03:00.0"
 * (Linux drivers/pci/probe.c pci_setup_device: "%04x:%02x:%02x.%d").
 */
export function pciName(rid: number): string {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");
  return `0000:${hex(rid >> 8, 2)}:${hex((rid >> 3) & 0x1f, 2)}.${rid & 7}`;
}
