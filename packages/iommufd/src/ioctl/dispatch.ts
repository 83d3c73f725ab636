/**
 * The /dev/iommu ioctl entry point on bytes (Linux iommufd_fops_ioctl).
 *
 * `iommufdIoctl(env, ctx, request, arg)` takes the caller's argument struct
 * as bytes (the whole user buffer the pointer designates), applies Linux's
 * checks in Linux's order, runs the command and writes the outputs back into
 * `arg` like copy_to_user (min(user size, kernel size) bytes). It returns 0
 * (or a positive value where Linux does) or −errno, and never throws for any
 * input.
 *
 * Order of checks (main.c): an nr outside the iommufd table goes to the VFIO
 * compat handler (else ENOTTY); a request whose number does not match the
 * table's exactly → ENOTTY; `size` unreadable → EFAULT; `size` below the
 * minimum → EINVAL; a non-zero tail beyond the kernel struct → E2BIG;
 * reserved members or unknown flags → EOPNOTSUPP (in the handler for
 * HANDLER_CHECKS_RESERVED); then the command.
 */
import {
  _IOC_NR,
  IOMMU_IOCTL,
  IOMMUFD_CMD_BASE,
  iommufdCopyIn,
  iommufdIoctlOp,
  isErrno,
} from "@iommu-sim/uapi";
import type { IommufdRoot } from "../root";
import type { IoctlEnv } from "./env";
import { HANDLERS } from "./handlers";

/**
 * Commands whose handler checks the reserved members and flags itself,
 * after the copy-in, or — as Linux — not at all: hw_pagetable.c
 * iommufd_hwpt_invalidate() answers a non-zero `__reserved` EOPNOTSUPP
 * with `entry_num` written back 0; viommu.c iommufd_viommu_alloc_ioctl()
 * checks `flags` (with `type`, EOPNOTSUPP) and never `__reserved`.
 */
const HANDLER_CHECKS_RESERVED: ReadonlySet<string> = new Set(["IOMMU_HWPT_INVALIDATE", "IOMMU_VIOMMU_ALLOC"]);

/** The last command number of the table (IOMMU_TEST_CMD, with CONFIG_IOMMUFD_TEST). */
const LAST_NR = _IOC_NR(IOMMU_IOCTL.IOMMU_TEST_CMD);

/** Handle one ioctl on context `ctx`. See the module comment. */
export function iommufdIoctl<R extends IommufdRoot>(
  env: IoctlEnv<R>,
  ctx: number,
  request: number,
  arg: Uint8Array,
): number {
  const nr = _IOC_NR(request);
  if (nr < IOMMUFD_CMD_BASE || nr > LAST_NR) return env.vfio ? env.vfio(ctx, request, arg) : -25; // ENOTTY
  const op = iommufdIoctlOp(request);
  if (op === undefined) return -25; // ENOTTY: a hole in the table, or wrong size/direction bits
  if (env.peek().iommufd.contexts[ctx] === undefined) return -9; // EBADF
  const input = iommufdCopyIn(
    request,
    arg,
    HANDLER_CHECKS_RESERVED.has(op.name) ? { checkContent: false } : undefined,
  );
  if (isErrno(input)) return input.ret;
  const handler = HANDLERS[op.name];
  if (handler === undefined) return -25; // ENOTTY: not modelled (yet), as a kernel without the feature
  return handler({
    env,
    ctx,
    op,
    value: input.value as Record<string, unknown>,
    userSize: input.userSize,
    arg,
  });
}
