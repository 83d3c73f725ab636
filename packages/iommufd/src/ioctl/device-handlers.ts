/**
 * Device and HWPT ioctls: IOMMU_HWPT_ALLOC (hw_pagetable.c) and
 * IOMMU_GET_HW_INFO (device.c iommufd_get_hw_info) for the selftest mock
 * and the VT-d / SMMUv3 drivers.
 */
import {
  IOMMU_HW_INFO_FLAG_INPUT_TYPE,
  IOMMU_HW_INFO_TYPE_DEFAULT,
  IOMMU_HWPT_FAULT_ID_VALID,
  isErrno,
} from "@iommu-sim/uapi";
import { deviceOf } from "../devices";
import type { HwRoot } from "../drivers/driver";
import { driverOf } from "../drivers/index";
import { getObject } from "../objects";
import type { IommufdRoot } from "../root";
import { type IoctlCall, respond } from "./call";
import { hwptAllocData } from "./nested-handlers";

type Call = IoctlCall<IommufdRoot>;
const EOPNOTSUPP = -95;

/**
 * IOMMU_HWPT_ALLOC → out_hwpt_id. The `data_len` bytes at `data_uptr` (the
 * driver data of a nested HWPT) travel in the command as `data`
 * (nested-handlers.ts `hwptAllocData`).
 */
export function hwptAlloc(call: Call): number {
  const v = call.value as {
    flags: number;
    dev_id: number;
    pt_id: number;
    data_type: number;
    data_len: number;
    data_uptr: bigint;
    fault_id: number;
  };
  const r = call.env.dispatch({
    type: "iommufd.hwpt.alloc",
    data: {
      ctx: call.ctx,
      devId: v.dev_id,
      ptId: v.pt_id,
      flags: v.flags,
      dataType: v.data_type,
      dataLen: v.data_len,
      ...hwptAllocData(call.env.user, v.data_len, v.data_uptr),
      ...((v.flags & IOMMU_HWPT_FAULT_ID_VALID) !== 0 ? { faultId: v.fault_id } : {}),
    },
  });
  if (isErrno(r)) return r.ret;
  const created = r.find((e) => e.type === "iommufd.object.created")!.data as { id: number };
  respond(call, { ...call.value, out_hwpt_id: created.id });
  return 0;
}

/**
 * IOMMU_GET_HW_INFO: the driver's struct (iommu_test_hw_info,
 * iommu_hw_info_vtd, iommu_hw_info_arm_smmuv3); a requested
 * `in_data_type` other than DEFAULT or the driver's → EOPNOTSUPP. Copies min(data_len, driver data size) bytes to
 * data_uptr and zeroes the rest of the caller's buffer (EFAULT if it cannot
 * be written), then answers data_len, out_data_type, out_capabilities and
 * out_max_pasid_log2.
 */
export function getHwInfo(call: Call): number {
  const v = call.value as {
    flags: number;
    dev_id: number;
    data_len: number;
    data_uptr: bigint;
    in_data_type: number;
  };
  const inType = v.flags & IOMMU_HW_INFO_FLAG_INPUT_TYPE ? v.in_data_type : IOMMU_HW_INFO_TYPE_DEFAULT;
  const c = call.env.peek().iommufd.contexts[call.ctx]!;
  const dev = getObject(c, v.dev_id, "device");
  if (isErrno(dev)) return dev.ret;
  const root = call.env.peek();
  const hw = deviceOf(root.iommufd, call.ctx, dev);
  const info = hw === undefined ? undefined : driverOf(hw.driver).hwInfo(root as HwRoot, hw);
  if (info === undefined || (inType !== IOMMU_HW_INFO_TYPE_DEFAULT && inType !== info.type))
    return EOPNOTSUPP;
  const data = info.data;
  if (v.data_len > 0) {
    const out = new Uint8Array(v.data_len);
    out.set(data.subarray(0, Math.min(v.data_len, data.length)));
    const e = call.env.user.write(v.data_uptr, out);
    if (e) return e.ret;
  }
  respond(call, {
    ...call.value,
    data_len: data.length,
    in_data_type: info.type,
    out_data_type: info.type,
    out_capabilities: info.capabilities,
    out_max_pasid_log2: info.maxPasidLog2,
  });
  return 0;
}
