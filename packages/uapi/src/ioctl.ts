/**
 * ioctl request numbers, encoded exactly as Linux does it.
 *
 * Source: Linux include/uapi/asm-generic/ioctl.h (unchanged since v2.6; the
 * layout used by x86, arm64, riscv and most other architectures — not by
 * alpha, mips, powerpc or sparc, which iommu-sim does not model).
 *
 * A request number is a 32-bit value:
 *
 * ```
 *  31 30 | 29 ........ 16 | 15 ...... 8 | 7 ....... 0
 *   dir  |   size (bytes) |    type     |     nr
 * ```
 *
 * iommufd, VFIO and the /dev/ioasid RFC all use `_IO()` (dir = none,
 * size = 0) even for commands that carry a struct: the struct's size travels
 * inside the struct (`size` / `argsz`), not in the request number.
 */

/** Bits of the command number field. */
export const _IOC_NRBITS = 8;
/** Bits of the type ("magic") field. */
export const _IOC_TYPEBITS = 8;
/** Bits of the size field (asm-generic). */
export const _IOC_SIZEBITS = 14;
/** Bits of the direction field (asm-generic). */
export const _IOC_DIRBITS = 2;

export const _IOC_NRMASK = (1 << _IOC_NRBITS) - 1;
export const _IOC_TYPEMASK = (1 << _IOC_TYPEBITS) - 1;
export const _IOC_SIZEMASK = (1 << _IOC_SIZEBITS) - 1;
export const _IOC_DIRMASK = (1 << _IOC_DIRBITS) - 1;

export const _IOC_NRSHIFT = 0;
export const _IOC_TYPESHIFT = _IOC_NRSHIFT + _IOC_NRBITS;
export const _IOC_SIZESHIFT = _IOC_TYPESHIFT + _IOC_TYPEBITS;
export const _IOC_DIRSHIFT = _IOC_SIZESHIFT + _IOC_SIZEBITS;

/** Direction: no data transfer. */
export const _IOC_NONE = 0;
/** Direction: userspace writes, kernel reads. */
export const _IOC_WRITE = 1;
/** Direction: kernel writes, userspace reads. */
export const _IOC_READ = 2;

/** An ioctl "type" (magic): a one-character string such as `";"` or its char code. */
export type IocType = string | number;

function typeCode(type: IocType): number {
  if (typeof type === "number") return type & _IOC_TYPEMASK;
  if (type.length !== 1)
    throw new RangeError(`ioctl type must be one character, got ${JSON.stringify(type)}`);
  return type.charCodeAt(0) & _IOC_TYPEMASK;
}

/**
 * `_IOC(dir, type, nr, size)`: build a request number. Returns an unsigned
 * 32-bit number (read-direction numbers are ≥ 2^31, as `unsigned int` in C).
 * Throws RangeError if a field does not fit (a programming error, like a
 * compile-time error in C).
 */
export function _IOC(dir: number, type: IocType, nr: number, size: number): number {
  if (dir < 0 || dir > _IOC_DIRMASK) throw new RangeError(`ioctl dir out of range: ${dir}`);
  if (nr < 0 || nr > _IOC_NRMASK) throw new RangeError(`ioctl nr out of range: ${nr}`);
  if (size < 0 || size > _IOC_SIZEMASK) throw new RangeError(`ioctl size out of range: ${size}`);
  return (
    ((dir << _IOC_DIRSHIFT) |
      (size << _IOC_SIZESHIFT) |
      (typeCode(type) << _IOC_TYPESHIFT) |
      (nr << _IOC_NRSHIFT)) >>>
    0
  );
}

/** `_IO(type, nr)`: a request with no size/direction (what iommufd, VFIO and /dev/ioasid use). */
export function _IO(type: IocType, nr: number): number {
  return _IOC(_IOC_NONE, type, nr, 0);
}

/** `_IOR(type, nr, size)`: kernel writes `size` bytes back to userspace. */
export function _IOR(type: IocType, nr: number, size: number): number {
  return _IOC(_IOC_READ, type, nr, size);
}

/** `_IOW(type, nr, size)`: userspace passes `size` bytes to the kernel. */
export function _IOW(type: IocType, nr: number, size: number): number {
  return _IOC(_IOC_WRITE, type, nr, size);
}

/** `_IOWR(type, nr, size)`: both directions. */
export function _IOWR(type: IocType, nr: number, size: number): number {
  return _IOC(_IOC_READ | _IOC_WRITE, type, nr, size);
}

/** `_IOC_DIR(cmd)`: the direction bits (`_IOC_NONE`/`_IOC_READ`/`_IOC_WRITE`). */
export function _IOC_DIR(cmd: number): number {
  return (cmd >>> _IOC_DIRSHIFT) & _IOC_DIRMASK;
}

/** `_IOC_TYPE(cmd)`: the type (magic) byte, e.g. 0x3b for `';'`. */
export function _IOC_TYPE(cmd: number): number {
  return (cmd >>> _IOC_TYPESHIFT) & _IOC_TYPEMASK;
}

/** `_IOC_NR(cmd)`: the command number byte. */
export function _IOC_NR(cmd: number): number {
  return (cmd >>> _IOC_NRSHIFT) & _IOC_NRMASK;
}

/** `_IOC_SIZE(cmd)`: the size field in bytes (0 for `_IO`). */
export function _IOC_SIZE(cmd: number): number {
  return (cmd >>> _IOC_SIZESHIFT) & _IOC_SIZEMASK;
}

/** Format a request number as Linux tools print it: `0x00003b80`. */
export function formatIoctl(cmd: number): string {
  return `0x${(cmd >>> 0).toString(16).padStart(8, "0")}`;
}
