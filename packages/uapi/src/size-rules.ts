/**
 * Linux's rules for structs whose size the caller chooses.
 *
 * - iommufd (`size` first): `copy_struct_from_user()` semantics as used by
 *   iommufd_fops_ioctl() — drivers/iommu/iommufd/main.c and
 *   include/linux/uaccess.h (Linux v6.17).
 * - VFIO and /dev/ioasid (`argsz` first): the `minsz = offsetofend(...)`
 *   pattern of drivers/vfio/*.c and the RFC's ioasid_user.c.
 * - Responses: the kernel copies back min(user size, kernel size) bytes
 *   (iommufd_ucmd_respond()).
 *
 * Every function returns an `Errno` value for a user-triggerable failure and
 * never throws for one. Sizes are in bytes.
 */
import { type Errno, errno, isErrno } from "./errno";
import { type IommufdIoctlOp, iommufdIoctlOp } from "./iommufd/ioctls";
import type { AnyLayout, EncodeInput, FieldInfo, Layout } from "./layout/index";

/** A struct read from user memory. */
export interface CopyIn<V> {
  /** The decoded kernel-side struct (zero-extended if the user's was shorter). */
  readonly value: V;
  /** The size the caller declared (`size` / `argsz`). */
  readonly userSize: number;
}

/** Options of `copyStructFromUser`. */
export interface CopyStructOptions {
  /**
   * Also apply the generic content checks of iommufd: non-zero reserved
   * members or flags outside `layout.knownFlags` → EOPNOTSUPP. Default true.
   */
  readonly checkContent?: boolean;
}

function allZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}

function readU32(bytes: Uint8Array, at: number): number {
  return (
    ((bytes[at] as number) | ((bytes[at + 1] as number) << 8) | ((bytes[at + 2] as number) << 16)) +
    (bytes[at + 3] as number) * 0x1000000
  );
}

/**
 * The content checks iommufd handlers apply first: every reserved member must
 * be zero and `flags` must only use defined bits. Returns EOPNOTSUPP naming
 * the member, or undefined when the struct passes. `kbytes` holds at least
 * `layout.size` bytes.
 */
export function checkReservedAndFlags(
  layout: AnyLayout,
  kbytes: Uint8Array,
  errName: "EOPNOTSUPP" | "EINVAL" = "EOPNOTSUPP",
): Errno | undefined {
  const reservedFields = layout.reservedFields;
  for (let i = 0; i < reservedFields.length; i++) {
    const f = reservedFields[i] as FieldInfo;
    if (!allZero(kbytes, f.offset, f.offset + f.size))
      return errno(errName, `${layout.name}.${f.name} must be 0`);
  }
  const known = layout.knownFlags;
  if (known === undefined || layout.flagsSize === 0) return undefined;
  const at = layout.flagsOffset;
  let unknown: boolean;
  switch (layout.flagsSize) {
    case 1:
      unknown = ((kbytes[at] as number) & ~known) !== 0;
      break;
    case 2:
      unknown = (((kbytes[at] as number) | ((kbytes[at + 1] as number) << 8)) & ~known) !== 0;
      break;
    case 4:
      unknown = (readU32(kbytes, at) & ~known) >>> 0 !== 0;
      break;
    default:
      unknown = (readU32(kbytes, at) & ~known) >>> 0 !== 0 || readU32(kbytes, at + 4) !== 0;
  }
  return unknown ? errno(errName, `${layout.name}.${layout.flagsField} has unknown bits`) : undefined;
}

/**
 * `copy_struct_from_user()` as iommufd applies it. `user` holds the caller's
 * bytes (at least `usize` of them); `usize` is the size the caller declared
 * (the struct's `size` member; default `user.length`).
 *
 * - `usize` < `layout.minSize` (offsetofend of the last mandatory member) → EINVAL
 * - `user` shorter than `usize` (unreadable memory) → EFAULT
 * - `usize` < `layout.size`: the missing tail reads as zero
 * - `usize` > `layout.size` with any non-zero byte beyond `layout.size` → E2BIG
 * - (with `checkContent`, the default) non-zero reserved member or unknown flag → EOPNOTSUPP
 */
export function copyStructFromUser<V>(
  layout: Layout<V>,
  user: Uint8Array,
  usize: number = user.length,
  options?: CopyStructOptions,
): CopyIn<V> | Errno {
  if (usize < layout.minSize) {
    return errno("EINVAL", `${layout.name}: size ${usize} < minimum ${layout.minSize}`);
  }
  if (user.length < usize)
    return errno("EFAULT", `${layout.name}: ${usize} bytes declared, ${user.length} readable`);
  const ksize = layout.size;
  let kbytes: Uint8Array;
  if (usize >= ksize) {
    if (usize > ksize && !allZero(user, ksize, usize)) {
      return errno("E2BIG", `${layout.name}: non-zero bytes beyond the kernel's ${ksize}`);
    }
    kbytes = user;
  } else {
    kbytes = new Uint8Array(ksize);
    kbytes.set(user.subarray(0, usize));
  }
  if (options?.checkContent !== false) {
    const bad = checkReservedAndFlags(layout, kbytes);
    if (bad !== undefined) return bad;
  }
  return { value: layout.decode(kbytes), userSize: usize };
}

/** A decoded iommufd command. */
export interface IommufdCopyIn extends CopyIn<unknown> {
  /** The op-table row of the command. */
  readonly op: IommufdIoctlOp;
}

/**
 * Decode the argument of iommufd ioctl `cmd` the way iommufd_fops_ioctl()
 * does: look the command up (unknown → ENOTTY), read the leading `__u32 size`
 * (fewer than 4 readable bytes → EFAULT), then `copyStructFromUser`.
 * `user` is the caller's memory from the argument pointer on.
 */
export function iommufdCopyIn(
  cmd: number,
  user: Uint8Array,
  options?: CopyStructOptions,
): IommufdCopyIn | Errno {
  const op = iommufdIoctlOp(cmd);
  if (op === undefined) return errno("ENOTTY", `not an iommufd ioctl: 0x${(cmd >>> 0).toString(16)}`);
  if (user.length < 4) return errno("EFAULT", "cannot read size");
  const usize = readU32(user, 0);
  const r = copyStructFromUser(op.layout, user, usize, options);
  if (isErrno(r)) return r;
  return { op, value: r.value, userSize: r.userSize };
}

/**
 * The response rule: the bytes the kernel copies back to the caller's
 * struct, i.e. the first min(`userSize`, `layout.size`) bytes of the encoded
 * `value`. Write them at the argument pointer.
 */
export function copyToUser<V>(layout: Layout<V>, value: EncodeInput<V>, userSize: number): Uint8Array {
  const bytes = layout.encode(value);
  const n = Math.max(0, Math.min(userSize, layout.size));
  return n === bytes.length ? bytes : bytes.slice(0, n);
}

/** An optional extension of an argsz struct, read only when `flag` is set in `flags`. */
export interface ArgszExtension {
  /** The flag bit that says the extension is present. */
  readonly flag: number;
  /** The extension's last member; `argsz` must reach its end. */
  readonly last: string;
}

/** Options of `argszCopyIn`. */
export interface ArgszOptions {
  /** Member whose end is `minsz` (default `layout.lastMandatory`). */
  readonly minszField?: string;
  /** Defined flag bits (default `layout.knownFlags`; undefined = not checked). Unknown bits → EINVAL. */
  readonly knownFlags?: number;
  /** Flag-gated extensions beyond `minsz` (e.g. VFIO_DEVICE_ATTACH_PASID → `pasid`). */
  readonly extensions?: readonly ArgszExtension[];
}

/** A struct read with the argsz rule. */
export interface ArgszCopyIn<V> extends CopyIn<V> {
  /** Bytes the kernel actually read (`minsz`, or the end of the furthest extension used). */
  readonly readSize: number;
}

/**
 * The `argsz` rule of VFIO (drivers/vfio, Linux v6.17) and the /dev/ioasid
 * RFC: the kernel reads `minsz` = offsetofend(struct, minszField) bytes, then
 *
 * - fewer than `minsz` readable bytes → EFAULT
 * - `argsz` < `minsz` → EINVAL
 * - flags outside `knownFlags` → EINVAL
 * - for each extension whose flag is set: `argsz` < its end → EINVAL, and its
 *   bytes are read too
 *
 * A larger `argsz` is accepted and the excess ignored (not E2BIG). Members the
 * kernel does not read decode as zero. `argsz` is the first `__u32`.
 */
export function argszCopyIn<V>(
  layout: Layout<V>,
  user: Uint8Array,
  options?: ArgszOptions,
): ArgszCopyIn<V> | Errno {
  const minsz = layout.offsetOfEnd(options?.minszField ?? layout.lastMandatory);
  if (user.length < minsz) return errno("EFAULT", `${layout.name}: cannot read ${minsz} bytes`);
  const argsz = readU32(user, 0);
  if (argsz < minsz) return errno("EINVAL", `${layout.name}: argsz ${argsz} < minsz ${minsz}`);
  const known = options?.knownFlags ?? layout.knownFlags;
  const flagsField = layout.flagsField ?? (layout.field("flags") !== undefined ? "flags" : undefined);
  let flags = 0;
  if (flagsField !== undefined) {
    const f = layout.field(flagsField);
    if (f !== undefined && f.size === 4 && f.offset + 4 <= minsz) flags = readU32(user, f.offset);
  }
  if (known !== undefined && (flags & ~known) !== 0) {
    return errno("EINVAL", `${layout.name}.flags has unknown bits`);
  }
  let readSize = minsz;
  for (const x of options?.extensions ?? []) {
    if ((flags & x.flag) === 0) continue;
    const xend = layout.offsetOfEnd(x.last);
    if (argsz < xend) return errno("EINVAL", `${layout.name}: argsz ${argsz} too small for ${x.last}`);
    if (user.length < xend) return errno("EFAULT", `${layout.name}: cannot read ${x.last}`);
    readSize = Math.max(readSize, xend);
  }
  const kbytes = new Uint8Array(layout.size);
  kbytes.set(user.subarray(0, Math.min(readSize, layout.size)));
  return { value: layout.decode(kbytes), userSize: argsz, readSize };
}

/** True if `x` is a successful copy-in result (not an `Errno`). */
export function isCopyIn<V>(x: CopyIn<V> | Errno): x is CopyIn<V> {
  return !isErrno(x);
}
