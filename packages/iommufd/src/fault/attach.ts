/**
 * Attaching devices to IOPF-capable HWPTs (Linux device.c
 * iommufd_hwpt_attach_device() / _replace_device() / _detach_device() with
 * `hwpt->fault`): attach enables IOPF on the device first
 * (iommufd_fault_iopf_enable() → the driver's IOPF enable, which needs
 * PCIe PRI: ENODEV without it — intel_iommu_enable_iopf(),
 * arm_smmu_dev_enable_feature(); the selftest mock always can); detach and
 * replace answer the device's pending groups of the old HWPT's queue
 * IOMMU_PAGE_RESP_INVALID (iommufd_auto_response_faults()).
 */
import { type Errno, errno } from "@iommu-sim/uapi";
import type { DeviceInfo } from "../drivers/driver";
import type { IommufdContext, IommufdObject } from "../state";
import { faultOf } from "./route";

export { faultDetachEffects } from "./decide";

/** ENODEV when `hwpt` has a fault queue and platform device `info` has no PRI (mock devices: `info` undefined, always capable). */
export function checkIopfCapable(
  c: IommufdContext,
  hwpt: IommufdObject,
  info: DeviceInfo | undefined,
): Errno | undefined {
  if (info === undefined || info.pri || faultOf(c, hwpt) === undefined) return undefined;
  return errno("ENODEV", `${info.name} has no PRI: it cannot use an IOPF-capable HWPT`);
}
