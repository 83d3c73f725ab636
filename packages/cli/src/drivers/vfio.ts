/**
 * The VFIO group and device nodes: /dev/vfio/$GROUP (Linux
 * drivers/vfio/group.c vfio_group_fops) and /dev/vfio/devices/vfioN
 * (drivers/vfio/device_cdev.c), served by `@iommu-sim/vfio-compat`. A
 * device fd from VFIO_GROUP_GET_DEVICE_FD becomes a real fd of the program
 * (an installed file, as the kernel's anon-inode "[vfio-device]" file).
 *
 * The fds a program passes by value — VFIO_GROUP_SET_CONTAINER's container
 * fd, VFIO_DEVICE_BIND_IOMMUFD's iommufd — are resolved in the caller's fd
 * table: an open of /dev/iommu or /dev/vfio/vfio is an iommufd context,
 * any other open fd is some other file (EBADFD), a closed one EBADF.
 */
import { existsSync } from "node:fs";
import type { LogRecord, Message } from "@iommu-sim/eventlog";
import type { UserMemory } from "@iommu-sim/iommufd";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import {
  type VfioEnv,
  type VfioFdTarget,
  type VfioRoot,
  vfioDeviceIoctlUser,
  vfioDeviceRelease,
  vfioGroupIoctlUser,
  vfioGroupRelease,
  vfioOpenPath,
} from "@iommu-sim/vfio-compat";
import type { Caller, DeviceDriver, OpenFile } from "../daemon/driver";
import { IommufdContextFile } from "./iommufd";

/** What the driver needs of the model. */
export interface VfioPort {
  dispatch(command: Message): readonly LogRecord[] | Errno;
  peek(): VfioRoot;
}

/** Memory for release (no caller): nothing is reachable. */
const NO_MEMORY: UserMemory = {
  read: () => errno("EFAULT", "no caller memory"),
  write: () => errno("EFAULT", "no caller memory"),
};

/** The VFIO environment of one call by `caller` (or of a release, without one). */
function vfioEnv(port: VfioPort, caller: Caller | undefined): VfioEnv {
  const env: VfioEnv = {
    dispatch: (c) => port.dispatch(c),
    peek: () => port.peek(),
    user: caller?.memory ?? NO_MEMORY,
  };
  if (caller === undefined) return env;
  env.fdTarget = (fd) => fdTarget(caller, fd);
  const install = caller.installFile;
  if (install !== undefined) {
    env.installDeviceFd = (file) => install(new VfioDeviceFile(port, file), "anon_inode:[vfio-device]");
  }
  return env;
}

/** What fd `fd` of the caller is, as VFIO asks (iommufd_ctx_from_fd()). */
function fdTarget(caller: Caller, fd: number): VfioFdTarget | undefined {
  const file = caller.fileAt?.(fd);
  if (file instanceof IommufdContextFile) return { kind: "iommufd", ctx: file.ctx };
  if (file !== undefined) return { kind: "other" };
  // Not one of the daemon's files: open (some real file) or not at all.
  return Number.isInteger(fd) && fd >= 0 && existsSync(`/proc/${caller.pid}/fd/${fd}`)
    ? { kind: "other" }
    : undefined;
}

/** An open VFIO group file. */
class VfioGroupFile implements OpenFile {
  constructor(
    private readonly port: VfioPort,
    private readonly group: number,
  ) {}

  /** vfio_group_fops_unl_ioctl: every group ioctl takes a pointer. */
  ioctl(caller: Caller, request: number, arg: bigint): number {
    return vfioGroupIoctlUser(vfioEnv(this.port, caller), this.group, request, arg);
  }

  release(): void {
    vfioGroupRelease(vfioEnv(this.port, undefined), this.group);
  }
}

/** An open VFIO device file (from a group's GET_DEVICE_FD, or a cdev open). */
class VfioDeviceFile implements OpenFile {
  constructor(
    private readonly port: VfioPort,
    private readonly file: number,
  ) {}

  /** vfio_device_fops_unl_ioctl. */
  ioctl(caller: Caller, request: number, arg: bigint): number {
    return vfioDeviceIoctlUser(vfioEnv(this.port, caller), this.file, request, arg);
  }

  release(): void {
    vfioDeviceRelease(vfioEnv(this.port, undefined), this.file);
  }
}

/**
 * The driver of everything under /dev/vfio/ but the container
 * (/dev/vfio/vfio is iommufd's, a longer path entry): group nodes and
 * device cdevs. open: ENOENT for a group or device that does not exist,
 * EBUSY for a group already open (vfio_group_fops_open).
 */
export function vfioDriver(port: VfioPort): DeviceDriver {
  return {
    name: "vfio",
    paths: ["/dev/vfio/"],
    open(path: string, _flags: number, caller: Caller): OpenFile | Errno {
      const opened = vfioOpenPath(vfioEnv(port, caller), path);
      if (isErrno(opened)) return opened;
      return opened.kind === "group"
        ? new VfioGroupFile(port, opened.group)
        : new VfioDeviceFile(port, opened.file);
    },
  };
}
