/**
 * IOMMU_VEVENTQ_ALLOC (Linux eventq.c iommufd_veventq_alloc): a vEVENTQ
 * object and its fd. Non-zero `flags` or `__reserved` were refused by the
 * copy-in (EOPNOTSUPP), as Linux's first check does.
 */
import { isErrno } from "@iommu-sim/uapi";
import type { IommufdRoot } from "../root";
import { type IoctlCall, respond } from "./call";

/**
 * `{size, flags, viommu_id, type, veventq_depth, out_veventq_id,
 * out_veventq_fd, __reserved}`: answers the object id and the fd
 * `env.installFd` gives the vEVENTQ file (without it, the object id). A
 * failed install (−EMFILE…) undoes the object and is returned, as
 * iommufd_veventq_alloc() does when get_unused_fd_flags() fails.
 */
export function veventqAlloc(call: IoctlCall<IommufdRoot>): number {
  const v = call.value as { flags: number; viommu_id: number; type: number; veventq_depth: number };
  const r = call.env.dispatch({
    type: "iommufd.veventq.alloc",
    data: { ctx: call.ctx, flags: v.flags, viommuId: v.viommu_id, type: v.type, depth: v.veventq_depth },
  });
  if (isErrno(r)) return r.ret;
  const { id } = r.find((e) => e.type === "iommufd.object.created")!.data as { id: number };
  const fd = call.env.installFd ? call.env.installFd({ kind: "veventq", ctx: call.ctx, id }) : id;
  if (fd < 0) {
    call.env.dispatch({ type: "iommufd.veventq.release", data: { ctx: call.ctx, id } });
    call.env.dispatch({ type: "iommufd.destroy", data: { ctx: call.ctx, id } });
    return fd;
  }
  respond(call, { ...call.value, out_veventq_id: id, out_veventq_fd: fd });
  return 0;
}
