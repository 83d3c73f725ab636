/**
 * The group file, /dev/vfio/$GROUP, as a program sees it: open, the four
 * group ioctls on bytes or on the raw register value, release (Linux
 * drivers/vfio/group.c vfio_group_fops_open, vfio_group_fops_unl_ioctl,
 * vfio_group_fops_release).
 */

import {
  type Errno,
  errno,
  isErrno,
  VFIO_GROUP_FLAGS_CONTAINER_SET,
  VFIO_GROUP_FLAGS_VIABLE,
  VFIO_IOCTL,
  vfioGroupStatus,
} from "@iommu-sim/uapi";
import { bytesArg, userArg, type VfioArg } from "../arg";
import { groupDevices, pciName } from "./devices";
import { fdIsOpen, iommufdOfFd, type VfioEnv } from "./env";
import { groupBindings } from "./group-binding";
import type { VfioRoot } from "./state";

const ENOTTY = -25;
/** strndup_user(arg, PAGE_SIZE): at most PAGE_SIZE bytes, the NUL included. */
const NAME_MAX_BYTES = 4096;
const NAME_CHUNK = 64;

/**
 * Open /dev/vfio/`group` → the group number (the handle of the other
 * group calls), or ENOENT (no such node) / EBUSY (open already, or a
 * device of the group is bound through its cdev).
 */
export function vfioGroupOpen(env: VfioEnv, group: number): number | Errno {
  const r = env.dispatch({ type: "vfio.group.open", data: { group } });
  return isErrno(r) ? r : group;
}

/**
 * Release the group file (its last fd closed): its devices are unbound and
 * the container let go, now or with the group's last device file.
 */
export function vfioGroupRelease(env: VfioEnv, group: number): void {
  // Release cannot fail; a group that is not open has nothing to release.
  env.dispatch({ type: "vfio.group.close", data: { group } });
}

/**
 * VFIO_GROUP_GET_STATUS: EFAULT reading the 8 bytes; EINVAL argsz < 8;
 * flags = CONTAINER_SET | VIABLE with a container, else VIABLE unless a
 * device of the group is bound to some iommufd (its DMA owner is claimed,
 * so SET_CONTAINER would be EPERM). The 8 bytes are written back.
 */
function getStatus(root: VfioRoot, group: number, arg: VfioArg): number {
  const bytes = arg.read(0, vfioGroupStatus.minSize);
  if (isErrno(bytes)) return bytes.ret;
  const status = vfioGroupStatus.decode(bytes);
  if (status.argsz < vfioGroupStatus.minSize) return errno("EINVAL", `argsz ${status.argsz} < 8`).ret;
  const g = root.vfio.groups[group]!;
  let flags = 0;
  if (g.ctx !== undefined) flags = VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO_GROUP_FLAGS_VIABLE;
  else if (groupBindings(root, group).length === 0) flags = VFIO_GROUP_FLAGS_VIABLE;
  return arg.write(0, vfioGroupStatus.encode({ argsz: status.argsz, flags }))?.ret ?? 0;
}

/**
 * VFIO_GROUP_SET_CONTAINER(int *fd), in Linux's order: EFAULT reading the
 * int; EBADF not an open fd; EINVAL the group has a container; EBADFD not
 * an iommufd (a /dev/iommu or /dev/vfio/vfio open); then
 * `vfio.group.set_container`: EPERM not viable, the compat IOAS made if
 * missing, every device of the group bound and attached to it.
 */
function setContainer(env: VfioEnv, group: number, arg: VfioArg): number {
  const bytes = arg.read(0, 4);
  if (isErrno(bytes)) return bytes.ret;
  const fd = new DataView(bytes.buffer, bytes.byteOffset, 4).getInt32(0, true);
  if (!fdIsOpen(env, fd)) return errno("EBADF", `fd ${fd} is not open`).ret;
  if (env.peek().vfio.groups[group]!.ctx !== undefined) return errno("EINVAL", "container set already").ret;
  const ctx = iommufdOfFd(env, fd);
  if (isErrno(ctx)) return ctx.ret;
  const r = env.dispatch({ type: "vfio.group.set_container", data: { group, ctx } });
  return isErrno(r) ? r.ret : 0;
}

/**
 * strndup_user(arg, PAGE_SIZE): the NUL-terminated string at the argument
 * — EFAULT where unreadable before its NUL, EINVAL without a NUL in the
 * first 4096 bytes. Read 64 bytes at a time; a chunk that faults is read
 * byte by byte, so a short buffer faults only past the NUL's position, as
 * strnlen_user.
 */
function readName(arg: VfioArg): string | Errno {
  let name = "";
  for (let at = 0; at < NAME_MAX_BYTES; at += NAME_CHUNK) {
    let chunk = arg.read(at, NAME_CHUNK);
    if (isErrno(chunk)) chunk = readUpToFault(arg, at);
    const nul = chunk.indexOf(0);
    name += String.fromCharCode(...chunk.subarray(0, nul < 0 ? chunk.length : nul));
    if (nul >= 0) return name;
    if (chunk.length < NAME_CHUNK)
      return errno("EFAULT", `device name unreadable at byte ${at + chunk.length}`);
  }
  return errno("EINVAL", "device name longer than PAGE_SIZE");
}

/** The bytes of [at, at + NAME_CHUNK) readable one by one, up to the first fault. */
function readUpToFault(arg: VfioArg, at: number): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < NAME_CHUNK; i++) {
    const b = arg.read(at + i, 1);
    if (isErrno(b)) break;
    out.push(b[0]!);
  }
  return Uint8Array.from(out);
}

/**
 * vfio-pci's match (vfio_pci_core_match) of `buf` against device `rid`:
 * its PCI name exactly → the device; the name followed by spaces → the
 * device; followed by options (`vf_token=<uuid>`, valid only for an
 * SR-IOV PF/VF, which the model has none of) → EINVAL; else no match.
 */
function matches(buf: string, rid: number): boolean | Errno {
  const name = pciName(rid);
  if (!buf.startsWith(name)) return false;
  const rest = buf.slice(name.length);
  if (rest.length === 0) return true;
  if (rest[0] !== " ") return false;
  return rest.trim().length === 0
    ? true
    : errno("EINVAL", `options '${rest.trim()}' for a device without SR-IOV`);
}

/**
 * VFIO_GROUP_GET_DEVICE_FD(char *name) → a new device file's fd: the name
 * (`readName`: EFAULT, EINVAL), matched against the group's devices
 * (ENODEV none, EINVAL bad options), then `vfio.device.open` (EINVAL no
 * container; ENOMEM; the device is bound and attached already, since
 * SET_CONTAINER); then the fd is installed (its −errno closes the file again).
 */
function getDeviceFd(env: VfioEnv, group: number, arg: VfioArg): number {
  const buf = readName(arg);
  if (isErrno(buf)) return buf.ret;
  let device: string | undefined;
  for (const d of groupDevices(env.peek().iommufd, group)) {
    const m = matches(buf, d.rid);
    if (isErrno(m)) return m.ret;
    if (m) {
      device = d.name;
      break;
    }
  }
  if (device === undefined) return errno("ENODEV", `no device '${buf}' in group ${group}`).ret;
  const r = env.dispatch({ type: "vfio.device.open", data: { group, device } });
  if (isErrno(r)) return r.ret;
  const file = (r.find((e) => e.type === "vfio.device.opened")!.data as { file: number }).file;
  const fd = env.installDeviceFd?.(file) ?? file;
  if (fd < 0) env.dispatch({ type: "vfio.device.close", data: { file } });
  return fd;
}

/**
 * A group ioctl on `group`'s open file with argument `arg`. Returns ≥ 0
 * (GET_DEVICE_FD's fd) or −errno; never throws. EBADF when the group file
 * is not open; ENOTTY for any request but the four group ioctls.
 */
export function vfioGroupIoctlArg(env: VfioEnv, group: number, request: number, arg: VfioArg): number {
  const root = env.peek();
  if (root.vfio.groups[group]?.fileOpen !== true) return errno("EBADF", `group ${group} is not open`).ret;
  switch (request) {
    case VFIO_IOCTL.VFIO_GROUP_GET_STATUS:
      return getStatus(root, group, arg);
    case VFIO_IOCTL.VFIO_GROUP_SET_CONTAINER:
      return setContainer(env, group, arg);
    // EINVAL no container, EBUSY device files open; else the devices are unbound.
    case VFIO_IOCTL.VFIO_GROUP_UNSET_CONTAINER: {
      const r = env.dispatch({ type: "vfio.group.unset_container", data: { group } });
      return isErrno(r) ? r.ret : 0;
    }
    case VFIO_IOCTL.VFIO_GROUP_GET_DEVICE_FD:
      return getDeviceFd(env, group, arg);
    default:
      return ENOTTY;
  }
}

/**
 * A group ioctl with the argument as bytes: the struct (GET_STATUS), the
 * container fd as a 4-byte little-endian int (SET_CONTAINER), the
 * NUL-terminated device name (GET_DEVICE_FD); outputs are written into `arg`.
 */
export function vfioGroupIoctl(env: VfioEnv, group: number, request: number, arg: Uint8Array): number {
  return vfioGroupIoctlArg(env, group, request, bytesArg(arg));
}

/** A group ioctl with the raw register value: a user VA in `env.user` (every group ioctl takes a pointer). */
export function vfioGroupIoctlUser(env: VfioEnv, group: number, request: number, value: bigint): number {
  return vfioGroupIoctlArg(env, group, request, userArg(env.user, value));
}
