/**
 * Ioctls of features the model does not have yet — dirty tracking, vEVENT
 * queues and HW queues — answered as a Linux kernel answers when the
 * *driver* lacks the feature (the ioctl itself exists, so not ENOTTY): the
 * generic size/flag rules (dispatch.ts), then each handler's own checks in
 * Linux's order up to the point where it would need the feature.
 *
 * Sources: Linux drivers/iommu/iommufd/hw_pagetable.c
 * (iommufd_hwpt_set_dirty_tracking, iommufd_hwpt_get_dirty_bitmap),
 * io_pagetable.c (iopt_set_dirty_tracking, iopt_read_and_clear_dirty_data:
 * "if (!ops) return -EOPNOTSUPP"), viommu.c (iommufd_hw_queue_alloc_ioctl),
 * eventq.c (iommufd_veventq_alloc). No model domain has `dirty_ops`.
 * vIOMMUs exist (the selftest mock's, viommu.ts), but vEVENTQs and HW
 * queues are not modelled yet: both ioctls answer ENOENT after their own
 * argument checks, as if no vIOMMU matched `viommu_id` (a deviation for an
 * existing vIOMMU, see each handler).
 */
import { isErrno } from "@iommu-sim/uapi";
import { getContext, getObject } from "../objects";
import type { IommufdRoot } from "../root";
import type { IoctlCall } from "./call";

type Handler = (call: IoctlCall<IommufdRoot>) => number;

const EOPNOTSUPP = -95;
const EINVAL = -22;
const ENOENT = -2;

/** −errno of a lookup of object `id` of `type` in the caller's context, or 0 when it exists. */
function lookup(call: IoctlCall<IommufdRoot>, id: number, type: "hwpt_paging"): number {
  const c = getContext(call.env.peek().iommufd, call.ctx);
  if (isErrno(c)) return c.ret;
  const o = getObject(c, id, type);
  return isErrno(o) ? o.ret : 0;
}

/**
 * IOMMU_HWPT_SET_DIRTY_TRACKING `{size, flags, hwpt_id, __reserved}`:
 * ENOENT unless `hwpt_id` is a paging HWPT (iommufd_get_hwpt_paging),
 * then EOPNOTSUPP — the domain has no dirty_ops.
 */
const setDirtyTracking: Handler = (call) =>
  lookup(call, call.value.hwpt_id as number, "hwpt_paging") || EOPNOTSUPP;

/**
 * IOMMU_HWPT_GET_DIRTY_BITMAP `{size, hwpt_id, flags, __reserved, iova,
 * length, page_size, data}`: ENOENT unless a paging HWPT, then EOPNOTSUPP
 * (iopt_read_and_clear_dirty_data checks the ops before the range).
 */
const getDirtyBitmap: Handler = (call) =>
  lookup(call, call.value.hwpt_id as number, "hwpt_paging") || EOPNOTSUPP;

/**
 * IOMMU_VEVENTQ_ALLOC `{size, flags, viommu_id, type, veventq_depth,
 * out_veventq_id, out_veventq_fd, __reserved}`: EOPNOTSUPP for type
 * IOMMU_VEVENTQ_TYPE_DEFAULT (0), EINVAL for depth 0, then ENOENT as for
 * a vIOMMU lookup that fails. Deviation: Linux allocates the queue on an
 * existing vIOMMU (vEVENTQs are iommufd core, eventq.c); the model has no
 * vEVENTQ yet and answers ENOENT for every `viommu_id`.
 */
const veventqAlloc: Handler = (call) => {
  if (call.value.type === 0) return EOPNOTSUPP;
  if (call.value.veventq_depth === 0) return EINVAL;
  return ENOENT;
};

/**
 * IOMMU_HW_QUEUE_ALLOC `{size, flags, viommu_id, type, index,
 * out_hw_queue_id, nesting_parent_iova, length}`: EOPNOTSUPP for type
 * IOMMU_HW_QUEUE_TYPE_DEFAULT (0), EINVAL for length 0, then ENOENT as for
 * a vIOMMU lookup that fails. Deviation: Linux goes on to the vIOMMU's
 * `hw_queue_init_phys` (the mock's takes IOMMU_HW_QUEUE_TYPE_SELFTEST); the
 * model has no HW queue yet and answers ENOENT for every `viommu_id`.
 */
const hwQueueAlloc: Handler = (call) => {
  if (call.value.type === 0) return EOPNOTSUPP;
  if (call.value.length === 0n) return EINVAL;
  return ENOENT;
};

/** The absent-feature handlers, by ioctl name (merged into HANDLERS). */
export const ABSENT_FEATURE_HANDLERS = {
  IOMMU_HWPT_SET_DIRTY_TRACKING: setDirtyTracking,
  IOMMU_HWPT_GET_DIRTY_BITMAP: getDirtyBitmap,
  IOMMU_VEVENTQ_ALLOC: veventqAlloc,
  IOMMU_HW_QUEUE_ALLOC: hwQueueAlloc,
} as const;
