/**
 * IOMMU_HW_QUEUE_ALLOC (Linux viommu.c iommufd_hw_queue_alloc_ioctl).
 * Non-zero `flags` were refused by the copy-in (EOPNOTSUPP), as Linux's
 * first check does.
 */
import { isErrno } from "@iommu-sim/uapi";
import type { IommufdRoot } from "../root";
import { type IoctlCall, respond } from "./call";

/**
 * `{size, flags, viommu_id, type, index, out_hw_queue_id,
 * nesting_parent_iova, length}` → out_hw_queue_id.
 */
export function hwQueueAlloc(call: IoctlCall<IommufdRoot>): number {
  const v = call.value as {
    flags: number;
    viommu_id: number;
    type: number;
    index: number;
    nesting_parent_iova: bigint;
    length: bigint;
  };
  const r = call.env.dispatch({
    type: "iommufd.hw_queue.alloc",
    data: {
      ctx: call.ctx,
      flags: v.flags,
      viommuId: v.viommu_id,
      type: v.type,
      index: v.index,
      iova: v.nesting_parent_iova,
      length: v.length,
    },
  });
  if (isErrno(r)) return r.ret;
  const { id } = r.find((e) => e.type === "iommufd.object.created")!.data as { id: number };
  respond(call, { ...call.value, out_hw_queue_id: id });
  return 0;
}
