/**
 * Ioctls of a feature the model does not have yet — dirty tracking —
 * answered as a Linux kernel answers when the *driver* lacks the feature (the ioctl itself exists, so not ENOTTY): the
 * generic size/flag rules (dispatch.ts), then each handler's own checks in
 * Linux's order up to the point where it would need the feature.
 *
 * Sources: Linux drivers/iommu/iommufd/hw_pagetable.c
 * (iommufd_hwpt_set_dirty_tracking, iommufd_hwpt_get_dirty_bitmap),
 * io_pagetable.c (iopt_set_dirty_tracking, iopt_read_and_clear_dirty_data:
 * "if (!ops) return -EOPNOTSUPP"). No model domain has `dirty_ops`.
 */
import { isErrno } from "@iommu-sim/uapi";
import { getContext, getObject } from "../objects";
import type { IommufdRoot } from "../root";
import type { IoctlCall } from "./call";

type Handler = (call: IoctlCall<IommufdRoot>) => number;

const EOPNOTSUPP = -95;

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

/** The absent-feature handlers, by ioctl name (merged into HANDLERS). */
export const ABSENT_FEATURE_HANDLERS = {
  IOMMU_HWPT_SET_DIRTY_TRACKING: setDirtyTracking,
  IOMMU_HWPT_GET_DIRTY_BITMAP: getDirtyBitmap,
} as const;
