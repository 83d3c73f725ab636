/**
 * VFIO_DEVICE_GET_INFO of a vfio-pci device (Linux
 * drivers/vfio/pci/vfio_pci_core.c vfio_pci_ioctl_get_info()).
 */
import {
  errno,
  isErrno,
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_PCI_NUM_IRQS,
  VFIO_PCI_NUM_REGIONS,
  vfioDeviceInfo,
} from "@iommu-sim/uapi";
import type { VfioArg } from "../arg";

/**
 * VFIO_DEVICE_GET_INFO → 0 or −errno. Reads the 16 mandatory bytes
 * (EFAULT), EINVAL argsz < 16, then answers
 * `{argsz (unchanged), flags: PCI, num_regions: 9, num_irqs: 5, cap_offset: 0}`
 * in the first min(argsz, 20) bytes. flags has no RESET: the model's
 * devices have no reset method (vdev->reset_works false, so
 * VFIO_DEVICE_RESET is EINVAL); no capability (only s390 zPCI adds any)
 * and no device-specific regions beyond the 9 PCI ones.
 */
export function deviceGetInfo(arg: VfioArg): number {
  const bytes = arg.read(0, vfioDeviceInfo.minSize);
  if (isErrno(bytes)) return bytes.ret;
  const argsz = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  if (argsz < vfioDeviceInfo.minSize) return errno("EINVAL", `argsz ${argsz} < 16`).ret;
  const info = vfioDeviceInfo.encode({
    argsz,
    flags: VFIO_DEVICE_FLAGS_PCI,
    num_regions: VFIO_PCI_NUM_REGIONS,
    num_irqs: VFIO_PCI_NUM_IRQS,
    cap_offset: 0,
  });
  return arg.write(0, info.subarray(0, Math.min(argsz, vfioDeviceInfo.size)))?.ret ?? 0;
}
