/**
 * The `vfio` slice: open VFIO group files and device files (Linux
 * drivers/vfio/vfio.h struct vfio_group, struct vfio_device_file).
 *
 * Only what must survive a replay lives here: which group files are open
 * and which iommufd context each holds as its container, and which device
 * files are open and what each is bound to. Everything iommufd knows (the
 * device objects, their attachments, the compat IOAS) stays in iommufd's
 * slice; a device's `open_count` is derived from the files.
 */
import type { IommufdRoot } from "@iommu-sim/iommufd";

/** An open group file, /dev/vfio/$GROUP (struct vfio_group's opened_file and iommufd). */
export interface VfioGroupFile {
  /** The IOMMU group number. */
  readonly group: number;
  /** The iommufd context set by VFIO_GROUP_SET_CONTAINER (group->iommufd), if any. */
  readonly ctx?: number;
  /**
   * False once the group file was closed while device files of the group
   * were still open: device files hold the group file, so it is released
   * (and its container let go) with the last of them.
   */
  readonly fileOpen: boolean;
}

/**
 * An open VFIO device file (struct vfio_device_file): one from
 * VFIO_GROUP_GET_DEVICE_FD (`group` set) or a cdev open of
 * /dev/vfio/devices/vfioN (`group` absent).
 */
export interface VfioDeviceFile {
  /** File id, from 1, never reused. */
  readonly id: number;
  /** The platform device's name. */
  readonly device: string;
  /** The group of a group-path file (df->group). */
  readonly group?: number;
  /**
   * The iommufd context the device is bound to (df->iommufd): a group
   * file's is its group's container at open; a cdev file's is set by
   * VFIO_DEVICE_BIND_IOMMUFD (df->access_granted). Absent: unbound, or the
   * context was closed under it.
   */
  readonly ctx?: number;
  /** The device object id in `ctx` (df->devid, what BIND_IOMMUFD answers in out_devid). */
  readonly devId?: number;
}

/** The `vfio` slice of the root state. */
export interface VfioState {
  /** Open group files by group number. */
  readonly groups: Readonly<Record<number, VfioGroupFile>>;
  /** Open device files by file id. */
  readonly files: Readonly<Record<number, VfioDeviceFile>>;
  /** The next device file id. */
  readonly nextFile: number;
  /**
   * iommufd contexts whose file was released while VFIO still held them
   * (a group's container, a bound device file): Linux's iommufd_ctx_get()
   * keeps the file alive, so the context closes with its last holder.
   */
  readonly released: Readonly<Record<number, true>>;
}

/** The empty slice. */
export const INITIAL_VFIO_STATE: VfioState = Object.freeze({
  groups: {},
  files: {},
  nextFile: 1,
  released: {},
});

/** The root state the vfio subsystem reads: iommufd's (with iopt's `iopt` and `mm`) and its own slice. */
export interface VfioRoot extends IommufdRoot {
  readonly vfio: VfioState;
}
