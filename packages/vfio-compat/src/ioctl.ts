/**
 * The VFIO container ioctl entry points (Linux
 * drivers/iommu/iommufd/vfio_compat.c iommufd_vfio_ioctl(), reached from
 * iommufd_fops_ioctl() for a request outside the iommufd table — on a
 * /dev/vfio/vfio open served by iommufd, or on /dev/iommu itself).
 */
import type { IoctlEnv, IommufdRoot } from "@iommu-sim/iommufd";
import { VFIO_API_VERSION, VFIO_IOCTL } from "@iommu-sim/uapi";
import { bytesArg, userArg, type VfioArg } from "./arg";
import { mapDma, unmapDma } from "./dma";
import { checkExtension } from "./extension";
import { getInfo } from "./get-info";
import { setIommu } from "./set-iommu";

const EBADF = -9;
const ENOTTY = -25;

/**
 * Handle container ioctl `request` on context `ctx` with argument `arg`.
 * Returns ≥ 0 (VFIO_CHECK_EXTENSION's 0/1, GET_API_VERSION's 0) or −errno;
 * never throws for any input. EBADF when the context is not open; ENOTTY
 * for every request but the six below (VFIO_IOMMU_DIRTY_PAGES,
 * VFIO_IOMMU_ENABLE/DISABLE, the group and device ioctls…), as Linux's
 * -ENOIOCTLCMD reaches user space.
 */
export function vfioContainerIoctl(
  env: IoctlEnv<IommufdRoot>,
  ctx: number,
  request: number,
  arg: VfioArg,
): number {
  const root = env.peek();
  if (root.iommufd.contexts[ctx] === undefined) return EBADF;
  switch (request) {
    case VFIO_IOCTL.VFIO_GET_API_VERSION:
      return VFIO_API_VERSION;
    case VFIO_IOCTL.VFIO_SET_IOMMU:
      return setIommu(env, ctx, arg.value);
    case VFIO_IOCTL.VFIO_CHECK_EXTENSION:
      return checkExtension(root, ctx, arg.value);
    case VFIO_IOCTL.VFIO_IOMMU_GET_INFO:
      return getInfo(root, ctx, arg);
    case VFIO_IOCTL.VFIO_IOMMU_MAP_DMA:
      return mapDma(env, ctx, arg);
    case VFIO_IOCTL.VFIO_IOMMU_UNMAP_DMA:
      return unmapDma(env, ctx, arg);
    default:
      return ENOTTY;
  }
}

/**
 * The byte entry point, shaped to plug in as `IoctlEnv.vfio`: `arg` is the
 * caller's buffer from the argument pointer on (for GET_INFO, argsz bytes
 * or more: the capability chain is written after the struct), or for the
 * integer ioctls (CHECK_EXTENSION, SET_IOMMU) the integer as 8
 * little-endian bytes (`vfioIntArg`). Outputs are written into `arg`.
 *
 * ```ts
 * const env = { dispatch, peek, user, vfio: (ctx, req, arg) => vfioCompatIoctl(env, ctx, req, arg) };
 * iommufdIoctl(env, ctx, VFIO_IOCTL.VFIO_CHECK_EXTENSION, vfioIntArg(VFIO_TYPE1v2_IOMMU)); // → 1
 * ```
 */
export function vfioCompatIoctl(
  env: IoctlEnv<IommufdRoot>,
  ctx: number,
  request: number,
  arg: Uint8Array,
): number {
  return vfioContainerIoctl(env, ctx, request, bytesArg(arg));
}

/**
 * The register entry point, for a real process's ioctl: `value` is the raw
 * `unsigned long` argument — the integer itself, or the user virtual
 * address of the struct in `env.user` (read and written there, faulting
 * with EFAULT as copy_from_user/copy_to_user do).
 */
export function vfioCompatIoctlUser(
  env: IoctlEnv<IommufdRoot>,
  ctx: number,
  request: number,
  value: bigint,
): number {
  return vfioContainerIoctl(env, ctx, request, userArg(env.user, value));
}

/**
 * `env` with the container ioctls installed as its `vfio` hook, so that
 * `iommufdIoctl(withVfioCompat(env), …)` serves /dev/vfio/vfio.
 */
export function withVfioCompat<E extends IoctlEnv<IommufdRoot>>(env: E): E {
  const out: E = {
    ...env,
    vfio: (ctx: number, request: number, arg: Uint8Array) => vfioCompatIoctl(out, ctx, request, arg),
  };
  return out;
}
