/**
 * The IOMMU_TEST_CMD PASID operations on mock devices (Linux
 * drivers/iommu/iommufd/selftest.c iommufd_test() cases
 * IOMMU_TEST_OP_PASID_ATTACH, _REPLACE, _DETACH, _CHECK_HWPT). `id` is the
 * mock device's selftest object (out_stdev_id). Returns 0 or −errno.
 */
import { isErrno } from "@iommu-sim/uapi";
import type { IommufdRoot } from "../root";
import { mockPasidCheckHwpt, mockPasidHwpt } from "../selftest/pasid";
import { type IoctlCall, respondU32, ret } from "./call";

type Call = IoctlCall<IommufdRoot>;

/** The union members the PASID ops read (decoded by the generic copy-in). */
export interface PasidTestCmd {
  id: number;
  pasid_attach: { pasid: number; pt_id: number };
  pasid_replace: { pasid: number; pt_id: number };
  pasid_detach: { pasid: number };
  pasid_check: { pasid: number; hwpt_id: number };
}

/** Offset of `pt_id` in pasid_attach / pasid_replace (union at 16, after `pasid`). */
const PT_ID = 16 + 4;

/**
 * IOMMU_TEST_OP_PASID_ATTACH / _REPLACE: `pasid`, `pt_id` (IOAS or HWPT);
 * answers the HWPT it landed on in `pt_id`, as iommufd_device_attach()
 * rewrites `*pt_id`.
 */
export function pasidAttach(call: Call, v: PasidTestCmd, replace: boolean): number {
  const { pasid, pt_id } = replace ? v.pasid_replace : v.pasid_attach;
  const r = call.env.dispatch({
    type: replace ? "iommufd.selftest.pasid_replace" : "iommufd.selftest.pasid_attach",
    data: { ctx: call.ctx, stdevId: v.id, pasid, ptId: pt_id },
  });
  if (isErrno(r)) return r.ret;
  const stdev = call.env.peek().iommufd.contexts[call.ctx]!.objects[v.id]!;
  respondU32(call, PT_ID, mockPasidHwpt(stdev, pasid)!);
  return 0;
}

/** IOMMU_TEST_OP_PASID_DETACH: `pasid`. */
export function pasidDetach(call: Call, v: PasidTestCmd): number {
  const r = call.env.dispatch({
    type: "iommufd.selftest.pasid_detach",
    data: { ctx: call.ctx, stdevId: v.id, pasid: v.pasid_detach.pasid },
  });
  return isErrno(r) ? r.ret : 0;
}

/** IOMMU_TEST_OP_PASID_CHECK_HWPT: `pasid`, `hwpt_id` (0: the PASID must be detached). */
export function pasidCheckHwpt(call: Call, v: PasidTestCmd): number {
  const { pasid, hwpt_id } = v.pasid_check;
  return ret(mockPasidCheckHwpt(call.env.peek(), call.ctx, v.id, pasid, hwpt_id));
}
