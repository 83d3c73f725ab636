/**
 * IOMMU_FAULT_QUEUE_ALLOC (Linux eventq.c iommufd_fault_alloc): a fault
 * object and its fd. `flags` ≠ 0 was refused by the copy-in (EOPNOTSUPP).
 */
import { isErrno } from "@iommu-sim/uapi";
import type { IommufdRoot } from "../root";
import { type IoctlCall, respond } from "./call";

/**
 * `{size, flags, out_fault_id, out_fault_fd}`: answers the object id and
 * the fd `env.installFd` gives the fault file (without it, the object id).
 * A failed install (−EMFILE…) undoes the object and is returned, as
 * iommufd_fault_alloc() does when get_unused_fd_flags() fails.
 */
export function faultQueueAlloc(call: IoctlCall<IommufdRoot>): number {
  const r = call.env.dispatch({ type: "iommufd.fault.alloc", data: { ctx: call.ctx } });
  if (isErrno(r)) return r.ret;
  const { id } = r.find((e) => e.type === "iommufd.object.created")!.data as { id: number };
  const fd = call.env.installFd ? call.env.installFd({ kind: "fault", ctx: call.ctx, id }) : id;
  if (fd < 0) {
    call.env.dispatch({ type: "iommufd.fault.release", data: { ctx: call.ctx, id } });
    call.env.dispatch({ type: "iommufd.destroy", data: { ctx: call.ctx, id } });
    return fd;
  }
  respond(call, { ...call.value, out_fault_id: id, out_fault_fd: fd });
  return 0;
}
