/**
 * The VFIO device nodes a program opens (Linux drivers/vfio/group.c
 * vfio_devnode: "vfio/%s"; device_cdev.c vfio_device_devnode:
 * "vfio/devices/%s"): /dev/vfio/$GROUP and /dev/vfio/devices/vfioN.
 * /dev/vfio/vfio (the container) is iommufd's.
 */
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import { vfioCdevOpen } from "./device-ioctl";
import type { VfioEnv } from "./env";
import { vfioGroupOpen } from "./group-ioctl";

/** What an open of a VFIO node gave. */
export type VfioOpened =
  | { readonly kind: "group"; readonly group: number }
  | { readonly kind: "device"; readonly file: number };

/**
 * Open `path`: "/dev/vfio/N" → a group file (ENOENT no such group, EBUSY
 * open already or a device bound through its cdev); "/dev/vfio/devices/vfioN"
 * → an unbound device file (ENOENT no such device); anything else under
 * /dev/vfio/ (including "/dev/vfio/vfio", served by iommufd) → ENOENT.
 * N is decimal without leading zeros, as the kernel names the nodes.
 */
export function vfioOpenPath(env: VfioEnv, path: string): VfioOpened | Errno {
  const group = /^\/dev\/vfio\/(0|[1-9][0-9]{0,9})$/.exec(path);
  if (group !== null) {
    const g = vfioGroupOpen(env, Number(group[1]));
    return isErrno(g) ? g : { kind: "group", group: g };
  }
  const cdev = /^\/dev\/vfio\/devices\/vfio(0|[1-9][0-9]{0,9})$/.exec(path);
  if (cdev !== null) {
    const f = vfioCdevOpen(env, Number(cdev[1]));
    if (isErrno(f)) return f.name === "ENODEV" ? errno("ENOENT", f.reason) : f;
    return { kind: "device", file: f };
  }
  return errno("ENOENT", `no device node ${path}`);
}

/**
 * Release an iommufd file (/dev/iommu or /dev/vfio/vfio: its last fd
 * closed) where VFIO groups and device files may hold its context: the
 * context closes now, or with its last holder (`vfio.iommufd.release`).
 * What a file layer serving VFIO calls instead of dispatching
 * `iommufd.close` itself. Cannot fail.
 */
export function vfioIommufdRelease(env: VfioEnv, ctx: number): void {
  env.dispatch({ type: "vfio.iommufd.release", data: { ctx } });
}
