/**
 * The third argument of a VFIO container ioctl, as the handlers see it.
 *
 * Linux's container ioctls take an `unsigned long arg` that is either an
 * integer (VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU: the extension / IOMMU
 * type) or a user pointer to an `argsz` struct (GET_INFO, MAP_DMA,
 * UNMAP_DMA), read with copy_from_user and answered with copy_to_user /
 * put_user (drivers/iommu/iommufd/vfio_compat.c). `VfioArg` gives both
 * views, so each handler reads and writes exactly the bytes Linux does, in
 * Linux's order, and faults (EFAULT) exactly where Linux would.
 */
import type { UserMemory } from "@iommu-sim/iommufd";
import { type Errno, errno } from "@iommu-sim/uapi";

/** The argument of one ioctl call. Offsets and lengths are in bytes from the argument pointer. */
export interface VfioArg {
  /** The argument as an integer (`unsigned long`, 64-bit): the value of integer ioctls. */
  readonly value: bigint;
  /** copy_from_user of `length` bytes at `offset`; EFAULT where the caller's memory ends. */
  read(offset: number, length: number): Uint8Array | Errno;
  /** copy_to_user of `bytes` at `offset`; EFAULT where the caller's memory ends or is read-only. */
  write(offset: number, bytes: Uint8Array): Errno | undefined;
}

/**
 * The argument given as bytes (IoctlEnv.vfio's convention): for a pointer
 * ioctl, `arg` is the caller's buffer from the pointer on (the struct and,
 * for GET_INFO, the room after it); reads and writes past its end fault.
 * For an integer ioctl, `arg` holds the integer as up to 8 little-endian
 * bytes (missing bytes read as 0; see `vfioIntArg`).
 */
export function bytesArg(arg: Uint8Array): VfioArg {
  let value = 0n;
  for (let i = Math.min(arg.length, 8) - 1; i >= 0; i--) value = (value << 8n) | BigInt(arg[i] as number);
  return {
    value,
    read: (offset, length) =>
      offset + length <= arg.length
        ? arg.slice(offset, offset + length)
        : errno("EFAULT", `argument holds ${arg.length} bytes, ${offset + length} needed`),
    write: (offset, bytes) => {
      if (offset + bytes.length > arg.length)
        return errno("EFAULT", `argument holds ${arg.length} bytes, ${offset + bytes.length} written`);
      arg.set(bytes, offset);
      return undefined;
    },
  };
}

/**
 * The argument given as the register value: an integer, or a user virtual
 * address in `user` (the caller's memory) for pointer ioctls. What a
 * preload shim that forwards a real process's ioctl needs.
 */
export function userArg(user: UserMemory, value: bigint): VfioArg {
  const at = (offset: number) => BigInt.asUintN(64, value + BigInt(offset));
  return {
    value,
    read: (offset, length) => user.read(at(offset), length),
    write: (offset, bytes) => user.write(at(offset), bytes),
  };
}

/**
 * The 8 little-endian bytes that carry an integer argument through the
 * byte interface: `vfioCompatIoctl(env, ctx, VFIO_CHECK_EXTENSION, vfioIntArg(VFIO_TYPE1v2_IOMMU))`.
 * @param value 0 … 2^64 − 1 (reduced modulo 2^64).
 */
export function vfioIntArg(value: number | bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(value)), true);
  return out;
}
