/**
 * /dev/ioasid: the userspace PASID allocator proposed in the RFC
 * "ioasid: Add /dev/ioasid for userspace" (Liu Yi L, 2021; seeds/000_*).
 * Never merged into Linux; iommu-sim models the RFC's include/uapi/linux/ioasid.h
 * and drivers/iommu/ioasid_user.c.
 *
 * Note: the RFC's comments describe IOASID_GET_INFO as `_IOR` and
 * IOASID_REQUEST_ALLOC/FREE as `_IOWR`, but its `#define`s — what a
 * compiled program actually sends — all use `_IO(IOASID_TYPE, IOASID_BASE + n)`.
 * The numbers here follow the `#define`s.
 */
import { type Errno, errno, isErrno } from "./errno";
import { _IO } from "./ioctl";
import { defineStruct, field, type LayoutValue } from "./layout/index";
import { type ArgszCopyIn, argszCopyIn } from "./size-rules";

const IOASID_H = "include/uapi/linux/ioasid.h (/dev/ioasid RFC, 2021)";

/** What IOASID_GET_API_VERSION returns. */
export const IOASID_API_VERSION = 0;
/** ioctl type `'i'` and base number 100. */
export const IOASID_TYPE = "i";
export const IOASID_BASE = 100;
/** PASID width the RFC's kernel side reports in `ioasid_bits` (ioasid_user.c: 31 bits). */
export const IOASID_BITS = 31;
/** The misc device minor the RFC assigns to /dev/ioasid. */
export const IOASID_MINOR = 129;

/** /dev/ioasid request numbers. */
export const IOASID_IOCTL = {
  IOASID_GET_API_VERSION: _IO(IOASID_TYPE, IOASID_BASE + 0),
  IOASID_GET_INFO: _IO(IOASID_TYPE, IOASID_BASE + 1),
  IOASID_REQUEST_ALLOC: _IO(IOASID_TYPE, IOASID_BASE + 2),
  IOASID_REQUEST_FREE: _IO(IOASID_TYPE, IOASID_BASE + 3),
} as const;
export type IoasidIoctlName = keyof typeof IOASID_IOCTL;

/** `struct ioasid_info` (12 bytes). minsz = offsetofend(ioasid_bits) = 12; flags must be 0 (else EINVAL). */
export const ioasidInfo = defineStruct(
  "ioasid_info",
  [field("argsz", "u32"), field("flags", "u32"), field("ioasid_bits", "u32")],
  { source: IOASID_H, lastMandatory: "ioasid_bits", knownFlags: 0 },
);
export type IoasidInfo = LayoutValue<typeof ioasidInfo>;

/** The anonymous `range` of `struct ioasid_alloc_request`: inclusive [min, max]. */
export const ioasidRange = defineStruct(
  "ioasid_alloc_request.range",
  [field("min", "u32"), field("max", "u32")],
  {
    source: IOASID_H,
  },
);

/** `struct ioasid_alloc_request` (16 bytes). minsz = offsetofend(range) = 16; flags must be 0 (else EINVAL). */
export const ioasidAllocRequest = defineStruct(
  "ioasid_alloc_request",
  [field("argsz", "u32"), field("flags", "u32"), field("range", ioasidRange)],
  { source: IOASID_H, lastMandatory: "range", knownFlags: 0 },
);
export type IoasidAllocRequest = LayoutValue<typeof ioasidAllocRequest>;

/** IOASID_GET_INFO's read (ioasid_get_info()): argsz < 12 or flags ≠ 0 → EINVAL. */
export function ioasidGetInfoCopyIn(user: Uint8Array): ArgszCopyIn<IoasidInfo> | Errno {
  return argszCopyIn(ioasidInfo, user);
}

/**
 * IOASID_REQUEST_ALLOC's read (ioasid_alloc_request()): argsz < 16 or
 * flags ≠ 0 → EINVAL; min > max, or either ≥ 2^IOASID_BITS → EINVAL.
 */
export function ioasidAllocRequestCopyIn(user: Uint8Array): ArgszCopyIn<IoasidAllocRequest> | Errno {
  const r = argszCopyIn(ioasidAllocRequest, user);
  if (isErrno(r)) return r;
  const { min, max } = r.value.range;
  const limit = 2 ** IOASID_BITS;
  if (min > max || min >= limit || max >= limit) return errno("EINVAL", `bad range [${min}, ${max}]`);
  return r;
}

/**
 * IOASID_REQUEST_FREE's read (ioasid_free_request()): the argument points at
 * a C `int`; fewer than 4 readable bytes → EFAULT, a negative value → EINVAL.
 */
export function ioasidFreeCopyIn(user: Uint8Array): number | Errno {
  if (user.length < 4) return errno("EFAULT", "cannot read ioasid");
  const v = new DataView(user.buffer, user.byteOffset, user.byteLength).getInt32(0, true);
  if (v < 0) return errno("EINVAL", "negative ioasid");
  return v;
}

/** The RFC answers an unknown /dev/ioasid command with EINVAL (ioasid_fops_unl_ioctl's default), not ENOTTY. */
export function ioasidUnknownIoctl(cmd: number): Errno {
  return errno("EINVAL", `unsupported /dev/ioasid cmd 0x${(cmd >>> 0).toString(16)}`);
}
