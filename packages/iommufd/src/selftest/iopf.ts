/**
 * IOMMU_TEST_OP_TRIGGER_IOPF (Linux drivers/iommu/iommufd/selftest.c
 * iommufd_test_trigger_iopf()): `trigger_iopf {dev_id, pasid, grpid, perm,
 * addr}` reports a one-page page request group from device object
 * `dev_id` (decider: fault/decide.ts decideTriggerIopf). ENOENT when
 * `dev_id` is not a device; 0 otherwise, delivered or not — as Linux, which
 * ignores iommu_report_device_fault()'s result.
 */
import { isErrno } from "@iommu-sim/uapi";
import type { IoctlCall } from "../ioctl/call";
import type { IommufdRoot } from "../root";

/** The `trigger_iopf` member of `struct iommu_test_cmd`. */
export interface TriggerIopf {
  dev_id: number;
  pasid: number;
  grpid: number;
  perm: number;
  addr: bigint;
}

/** IOMMU_TEST_OP_TRIGGER_IOPF → 0 or −errno. */
export function triggerIopf(call: IoctlCall<IommufdRoot>, t: TriggerIopf): number {
  const r = call.env.dispatch({
    type: "iommufd.selftest.trigger_iopf",
    data: { ctx: call.ctx, devId: t.dev_id, pasid: t.pasid, grpid: t.grpid, perm: t.perm, addr: t.addr },
  });
  return isErrno(r) ? r.ret : 0;
}
