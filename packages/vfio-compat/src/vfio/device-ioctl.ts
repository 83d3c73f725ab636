/**
 * A VFIO device file as a program sees it — from VFIO_GROUP_GET_DEVICE_FD
 * or an open of /dev/vfio/devices/vfioN: its ioctls on bytes or on the raw
 * register value, and release (Linux drivers/vfio/vfio_main.c
 * vfio_device_fops_unl_ioctl / _release, drivers/vfio/device_cdev.c).
 *
 * Modelled: VFIO_DEVICE_GET_INFO; on cdev files VFIO_DEVICE_BIND_IOMMUFD,
 * VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_DETACH_IOMMUFD_PT;
 * VFIO_DEVICE_RESET answers EINVAL (no reset method). Everything else —
 * region and IRQ info, SET_IRQS, VFIO_DEVICE_FEATURE, config space, BAR
 * mmap/read/write — answers ENOTTY: the model has no device internals.
 */
import {
  type Errno,
  errno,
  isErrno,
  VFIO_DEVICE_ATTACH_PASID,
  VFIO_DEVICE_BIND_FLAG_TOKEN,
  VFIO_DEVICE_DETACH_PASID,
  VFIO_IOCTL,
  vfioDeviceAttachIommufdPt,
  vfioDeviceBindIommufd,
  vfioDeviceDetachIommufdPt,
} from "@iommu-sim/uapi";
import { bytesArg, userArg, type VfioArg } from "../arg";
import { cdevBindCheck } from "./cdev";
import { deviceGetInfo } from "./device-info";
import { cdevDevice } from "./devices";
import { iommufdOfFd, type VfioEnv } from "./env";
import type { VfioRoot } from "./state";

const ENOTTY = -25;
/** check_zeroed_user reads the tail in chunks of this many bytes. */
const ZERO_CHUNK = 64 * 1024;
const u32 = (b: Uint8Array, at: number) =>
  new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, true);
const le32 = (v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
};

/**
 * Open /dev/vfio/devices/vfio`index` → the device file id (unbound), or
 * ENODEV (no such VFIO device) / ENOMEM (fault injection).
 */
export function vfioCdevOpen(env: VfioEnv, index: number): number | Errno {
  const d = cdevDevice(env.peek().iommufd, index);
  if (d === undefined) return errno("ENODEV", `no /dev/vfio/devices/vfio${index}`);
  const r = env.dispatch({ type: "vfio.cdev.open", data: { device: d.name } });
  if (isErrno(r)) return r;
  return (r.find((e) => e.type === "vfio.device.opened")!.data as { file: number }).file;
}

/** Release device file `file` (its last fd closed): the last open of the device unbinds it. */
export function vfioDeviceRelease(env: VfioEnv, file: number): void {
  // Release cannot fail; a file that is not open has nothing to release.
  env.dispatch({ type: "vfio.device.close", data: { file } });
}

/**
 * copy_struct_from_user(&bind, 24, arg, argsz) after get_user(argsz):
 * bytes past the kernel's 24 must be zero (E2BIG; EFAULT unreadable),
 * then min(argsz, 24) bytes are read and zero-extended.
 */
function copyStructIn(arg: VfioArg, argsz: number, ksize: number): Uint8Array | Errno {
  for (let at = ksize; at < argsz; at += ZERO_CHUNK) {
    const chunk = arg.read(at, Math.min(ZERO_CHUNK, argsz - at));
    if (isErrno(chunk)) return chunk;
    if (chunk.some((b) => b !== 0)) return errno("E2BIG", "non-zero bytes past the kernel's struct");
  }
  const n = Math.min(argsz, ksize);
  const bytes = arg.read(0, n);
  if (isErrno(bytes)) return bytes;
  const out = new Uint8Array(ksize);
  out.set(bytes);
  return out;
}

/**
 * VFIO_DEVICE_BIND_IOMMUFD (Linux v6.17 vfio_df_ioctl_bind_iommufd), in
 * Linux's order: EFAULT argsz; EINVAL argsz < 16; E2BIG/EFAULT
 * (copy_struct_from_user); EINVAL iommufd < 0 or a flag other than TOKEN;
 * `cdevBindCheck` (EINVAL group file, EBUSY group open, EINVAL bound);
 * with TOKEN the 16-byte UUID at token_uuid_ptr is read (EFAULT) and
 * refused (EINVAL: a VF token only means something for an SR-IOV PF/VF);
 * EBADF / EBADFD the iommufd fd; then `vfio.cdev.bind` (EINVAL open through
 * another file, EPERM group owned elsewhere, ENOMEM). out_devid (offset 12)
 * answers the device object id.
 */
function bind(env: VfioEnv, file: number, arg: VfioArg): number {
  const head = arg.read(0, 4);
  if (isErrno(head)) return head.ret;
  const argsz = u32(head, 0);
  if (argsz < vfioDeviceBindIommufd.minSize) return errno("EINVAL", `argsz ${argsz} < 16`).ret;
  const bytes = copyStructIn(arg, argsz, vfioDeviceBindIommufd.size);
  if (isErrno(bytes)) return bytes.ret;
  const b = vfioDeviceBindIommufd.decode(bytes);
  if (b.iommufd < 0 || (b.flags & ~VFIO_DEVICE_BIND_FLAG_TOKEN) !== 0)
    return errno("EINVAL", "bad iommufd or flags").ret;
  const check = cdevBindCheck(env.peek(), file);
  if (isErrno(check)) return check.ret;
  if ((b.flags & VFIO_DEVICE_BIND_FLAG_TOKEN) !== 0) {
    const uuid = env.user.read(b.token_uuid_ptr, 16);
    if (isErrno(uuid)) return uuid.ret;
    return errno("EINVAL", "VF token incorrectly provided, not a PF or VF").ret;
  }
  const ctx = iommufdOfFd(env, b.iommufd);
  if (isErrno(ctx)) return ctx.ret;
  // copy_to_user(out_devid) failing makes Linux close the device again: probe it first, so nothing commits.
  const probe = arg.write(12, bytes.subarray(12, 16));
  if (probe) return probe.ret;
  const r = env.dispatch({ type: "vfio.cdev.bind", data: { file, ctx } });
  if (isErrno(r)) return r.ret;
  const devId = (r.find((e) => e.type === "vfio.device.bound")!.data as { devId: number }).devId;
  return arg.write(12, le32(devId))?.ret ?? 0;
}

/**
 * Read a VFIO argsz struct with an optional flag-gated tail, as
 * vfio_df_ioctl_attach_pt / _detach_pt do: `minsz` bytes (EFAULT), EINVAL
 * argsz < minsz or a flag other than `flag`, with `flag` EINVAL argsz <
 * minsz + 4, then the 4 more bytes (EFAULT). Returns the bytes read
 * (zero-extended to minsz + 4).
 */
function readWithPasid(arg: VfioArg, minsz: number, flag: number): Uint8Array | Errno {
  const head = arg.read(0, minsz);
  if (isErrno(head)) return head;
  const out = new Uint8Array(minsz + 4);
  out.set(head);
  if (u32(head, 0) < minsz) return errno("EINVAL", `argsz ${u32(head, 0)} < ${minsz}`);
  const flags = u32(head, 4);
  if ((flags & ~flag) !== 0) return errno("EINVAL", `unknown flags 0x${flags.toString(16)}`);
  if ((flags & flag) === 0) return out;
  if (u32(head, 0) < minsz + 4) return errno("EINVAL", "argsz too small for pasid");
  const tail = arg.read(minsz, 4);
  if (isErrno(tail)) return tail;
  out.set(tail, minsz);
  return out;
}

/** The HWPT id device object `devId` of context `ctx` is attached to at `pasid` (0 = the RID). */
function attachedHwpt(root: VfioRoot, ctx: number, devId: number, pasid: number): number {
  const idev = root.iommufd.contexts[ctx]?.objects[devId];
  return idev?.attachments?.find((a) => a.pasid === pasid)?.hwpt ?? 0;
}

/**
 * VFIO_DEVICE_ATTACH_IOMMUFD_PT: `readWithPasid` (minsz 12; PASID needs
 * argsz ≥ 16), then `vfio.cdev.attach` (attach, or replace when attached
 * there already); pt_id (offset 8) answers the HWPT now attached — the
 * auto domain's id when pt_id named an IOAS (iommufd_device_attach writes
 * it back).
 */
function attach(env: VfioEnv, file: number, arg: VfioArg): number {
  const bytes = readWithPasid(arg, vfioDeviceAttachIommufdPt.minSize, VFIO_DEVICE_ATTACH_PASID);
  if (isErrno(bytes)) return bytes.ret;
  const a = vfioDeviceAttachIommufdPt.decode(bytes);
  const withPasid = (a.flags & VFIO_DEVICE_ATTACH_PASID) !== 0;
  // copy_to_user(pt_id) failing makes Linux detach again: probe it first, so nothing commits.
  const probe = arg.write(8, bytes.subarray(8, 12));
  if (probe) return probe.ret;
  const data = { file, ptId: a.pt_id, ...(withPasid ? { pasid: a.pasid } : {}) };
  const r = env.dispatch({ type: "vfio.cdev.attach", data });
  if (isErrno(r)) return r.ret;
  const f = env.peek().vfio.files[file]!;
  return arg.write(8, le32(attachedHwpt(env.peek(), f.ctx!, f.devId!, withPasid ? a.pasid : 0)))?.ret ?? 0;
}

/** VFIO_DEVICE_DETACH_IOMMUFD_PT: `readWithPasid` (minsz 8; PASID needs argsz ≥ 12), then `vfio.cdev.detach`. */
function detach(env: VfioEnv, file: number, arg: VfioArg): number {
  const bytes = readWithPasid(arg, vfioDeviceDetachIommufdPt.minSize, VFIO_DEVICE_DETACH_PASID);
  if (isErrno(bytes)) return bytes.ret;
  const d = vfioDeviceDetachIommufdPt.decode(bytes);
  const withPasid = (d.flags & VFIO_DEVICE_DETACH_PASID) !== 0;
  const r = env.dispatch({
    type: "vfio.cdev.detach",
    data: { file, ...(withPasid ? { pasid: d.pasid } : {}) },
  });
  return isErrno(r) ? r.ret : 0;
}

/**
 * A device ioctl on file `file` (vfio_device_fops_unl_ioctl): EBADF file
 * not open; BIND_IOMMUFD on any file (EINVAL on a group-path one); every
 * other request EINVAL until the file has access (a cdev file before its
 * bind); ATTACH/DETACH_IOMMUFD_PT on cdev files only (a group-path file
 * hands them to vfio-pci, which answers ENOTTY); GET_INFO; RESET EINVAL;
 * anything else ENOTTY. Never throws.
 */
export function vfioDeviceIoctlArg(env: VfioEnv, file: number, request: number, arg: VfioArg): number {
  const f = env.peek().vfio.files[file];
  if (f === undefined) return errno("EBADF", `device file ${file} is not open`).ret;
  if (request === VFIO_IOCTL.VFIO_DEVICE_BIND_IOMMUFD) return bind(env, file, arg);
  const cdev = f.group === undefined;
  if (cdev && f.ctx === undefined) return errno("EINVAL", "bind the device file first").ret;
  if (cdev && request === VFIO_IOCTL.VFIO_DEVICE_ATTACH_IOMMUFD_PT) return attach(env, file, arg);
  if (cdev && request === VFIO_IOCTL.VFIO_DEVICE_DETACH_IOMMUFD_PT) return detach(env, file, arg);
  switch (request) {
    case VFIO_IOCTL.VFIO_DEVICE_GET_INFO:
      return deviceGetInfo(arg);
    case VFIO_IOCTL.VFIO_DEVICE_RESET:
      return errno("EINVAL", "the device has no reset method").ret;
    default:
      return ENOTTY;
  }
}

/** A device ioctl with the argument as bytes (the struct from the argument pointer on); outputs land in `arg`. */
export function vfioDeviceIoctl(env: VfioEnv, file: number, request: number, arg: Uint8Array): number {
  return vfioDeviceIoctlArg(env, file, request, bytesArg(arg));
}

/** A device ioctl with the raw register value: a user VA in `env.user`. */
export function vfioDeviceIoctlUser(env: VfioEnv, file: number, request: number, value: bigint): number {
  return vfioDeviceIoctlArg(env, file, request, userArg(env.user, value));
}
