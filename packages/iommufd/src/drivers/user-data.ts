/**
 * Copying driver data out of IOMMU_HWPT_ALLOC / IOMMU_HWPT_INVALIDATE
 * requests with Linux's rules (include/linux/iommu.h
 * `__iommu_copy_struct_from_user()` and
 * `__iommu_copy_struct_from_user_array()`).
 *
 * Unlike the generic `copy_struct_from_user()` rule of the iommufd
 * commands themselves (a longer struct with a zero tail is accepted, a
 * non-zero tail is E2BIG), driver data longer than the kernel's struct is
 * EINVAL: `if (src_data->len < min_len || data_len < src_data->len)
 * return -EINVAL` — which is why the selftest expects EINVAL for an
 * invalidation `entry_len` of sizeof(struct) + 1.
 */
import { type Errno, errno, type Layout } from "@iommu-sim/uapi";
import type { UserData, UserDataArray } from "./driver";

/** EINVAL unless `min` ≤ `len` ≤ `size` (bytes). */
function checkLength(what: string, len: number, min: number, size: number): Errno | undefined {
  if (len < min) return errno("EINVAL", `${what}: ${len} bytes < the minimum ${min}`);
  if (len > size) return errno("EINVAL", `${what}: ${len} bytes > the kernel's ${size}`);
  return undefined;
}

/**
 * `iommu_copy_struct_from_user(kdst, user_data, type, min_last)`: a
 * `data.type` other than `type` (when given) → EINVAL; `data.len` below
 * the layout's minimum or above its size → EINVAL; bytes that could not be
 * read → EFAULT. Shorter data is zero-extended. Reserved members and flags
 * are left to the driver. @returns the decoded struct.
 */
export function copyUserData<V>(layout: Layout<V>, data: UserData, type?: number): V | Errno {
  if (type !== undefined && data.type !== type) return errno("EINVAL", `data_type ${data.type} ≠ ${type}`);
  const bad = checkLength(layout.name, data.len, layout.minSize, layout.size);
  if (bad) return bad;
  if (data.bytes === undefined || data.bytes.length < data.len)
    return errno("EFAULT", "data_uptr could not be read");
  return layout.decode(kernelCopy(layout, data.bytes.subarray(0, data.len)));
}

/** The kernel's copy of `user` bytes of a struct: exactly `layout.size` bytes, zero-extended. */
export function kernelCopy<V>(layout: Layout<V>, user: Uint8Array): Uint8Array {
  const k = new Uint8Array(layout.size);
  k.set(user.subarray(0, layout.size));
  return k;
}

/**
 * The bytes of entry `index` of `array` (`entryLen` of them), as
 * `iommu_copy_struct_from_user_array()` reads them: `entryLen` below the
 * entry's minimum (offsetofend of its initial last member) or above the
 * kernel's struct → EINVAL; the entry beyond what could be copied from
 * user memory → EFAULT.
 */
export function userArrayEntry<V>(
  array: UserDataArray,
  index: number,
  layout: Layout<V>,
): Uint8Array | Errno {
  const bad = checkLength(layout.name, array.entryLen, layout.minSize, layout.size);
  if (bad) return bad;
  const start = index * array.entryLen;
  if (start + array.entryLen > array.data.length) return errno("EFAULT", `entry ${index} is not readable`);
  return array.data.subarray(start, start + array.entryLen);
}
