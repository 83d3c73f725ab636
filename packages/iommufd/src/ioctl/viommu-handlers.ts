/**
 * The byte side of vIOMMUs and vDEVICEs: IOMMU_VIOMMU_ALLOC (Linux
 * viommu.c iommufd_viommu_alloc_ioctl) with its driver data copied in and
 * back, and IOMMU_VDEVICE_ALLOC (iommufd_vdevice_alloc_ioctl).
 */
import { isErrno } from "@iommu-sim/uapi";
import type { IommufdRoot } from "../root";
import { type IoctlCall, respond } from "./call";
import { hwptAllocData } from "./nested-handlers";

type Call = IoctlCall<IommufdRoot>;

/** The id in the `iommufd.object.created` of committed records. */
function createdId(records: readonly { type: string; data: unknown }[]): number {
  return (records.find((e) => e.type === "iommufd.object.created")!.data as { id: number }).id;
}

/**
 * IOMMU_VIOMMU_ALLOC `{size, flags, type, dev_id, hwpt_id, out_viommu_id,
 * data_len, __reserved, data_uptr}` → out_viommu_id. The `data_len` bytes
 * at `data_uptr` travel in the command (absent when unreadable: EFAULT at
 * the driver's copy); what the driver answers in them
 * (`iommufd.viommu.data_returned`) is written back to `data_uptr`. Linux
 * checks neither `__reserved` nor anything but `flags` and `type` before
 * the lookups (dispatch.ts lets `__reserved` through). If the answer
 * cannot be written (readable but read-only memory), the new vIOMMU is
 * destroyed again and the call fails with EFAULT, as Linux's
 * copy_struct_to_user failure aborts the object.
 */
export function viommuAlloc(call: Call): number {
  const v = call.value as {
    flags: number;
    type: number;
    dev_id: number;
    hwpt_id: number;
    data_len: number;
    data_uptr: bigint;
  };
  const r = call.env.dispatch({
    type: "iommufd.viommu.alloc",
    data: {
      ctx: call.ctx,
      flags: v.flags,
      type: v.type,
      devId: v.dev_id,
      hwptId: v.hwpt_id,
      dataLen: v.data_len,
      ...hwptAllocData(call.env.user, v.data_len, v.data_uptr),
    },
  });
  if (isErrno(r)) return r.ret;
  const id = createdId(r);
  const answer = r.find((e) => e.type === "iommufd.viommu.data_returned")?.data as
    | { bytes: Uint8Array }
    | undefined;
  if (answer !== undefined) {
    const fault = call.env.user.write(v.data_uptr, answer.bytes);
    if (fault) {
      call.env.dispatch({ type: "iommufd.destroy", data: { ctx: call.ctx, id } });
      return fault.ret;
    }
  }
  respond(call, { ...call.value, out_viommu_id: id });
  return 0;
}

/** IOMMU_VDEVICE_ALLOC `{size, viommu_id, dev_id, out_vdevice_id, virt_id}` → out_vdevice_id. */
export function vdeviceAlloc(call: Call): number {
  const v = call.value as { viommu_id: number; dev_id: number; virt_id: bigint };
  const r = call.env.dispatch({
    type: "iommufd.vdevice.alloc",
    data: { ctx: call.ctx, viommuId: v.viommu_id, devId: v.dev_id, virtId: v.virt_id },
  });
  if (isErrno(r)) return r.ret;
  respond(call, { ...call.value, out_vdevice_id: createdId(r) });
  return 0;
}
