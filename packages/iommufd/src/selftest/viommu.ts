/**
 * The selftest mock driver's vIOMMU (Linux drivers/iommu/iommufd/selftest.c
 * `mock_get_viommu_size()`, `mock_viommu_init()`,
 * `mock_viommu_alloc_domain_nested()`, `mock_viommu_cache_invalidate()`):
 * type IOMMU_VIOMMU_TYPE_SELFTEST only; its optional data is a loopback
 * (`out_data = in_data`); nested domains allocated on it remember it, and
 * attaching a device's RID to one needs the device's vDEVICE on it
 * (`mock_domain_nop_attach()` → `iommufd_viommu_get_vdev_id()`, ENOENT
 * without); its invalidation clears entries of the caches of the mock
 * devices named by their virtual ids.
 *
 * The data struct is `struct iommu_viommu_selftest {u32 in_data; u32
 * out_data}` (8 bytes) as in the iommufd_test.h the model follows, from
 * before Linux v6.17 added `out_mmap_offset`/`out_mmap_length` and the
 * mmap-able page (`iommufd_viommu_alloc_mmap()`), which are not modelled.
 */
import type { DecideContext } from "@iommu-sim/eventlog";
import {
  type Errno,
  errno,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_TEST_INVALIDATE_FLAG_ALL,
  IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
  IOMMU_VIOMMU_TYPE_SELFTEST,
  iommuViommuInvalidateSelftest,
  iommuViommuSelftest,
  isErrno,
  MOCK_DEV_CACHE_ID_MAX,
  MOCK_DEV_CACHE_NUM,
} from "@iommu-sim/uapi";
import type {
  Decided,
  HwRoot,
  UserData,
  UserDataArray,
  UserInvalidation,
  ViommuInit,
  ViommuRef,
} from "../drivers/driver";
import { vdeviceByVirtId } from "../vdevice";
import { decideMockNestedAlloc } from "./nested";

/** sizeof(struct iommu_viommu_selftest) in the modelled header: offsetofend(out_data) = 8 bytes. */
const VIOMMU_SELFTEST_SIZE = iommuViommuSelftest.offsetOfEnd("out_data");
/** sizeof(struct iommu_viommu_invalidate_selftest) = 12 bytes. */
const INV_SIZE = iommuViommuInvalidateSelftest.size;

/** `mock_get_viommu_size()` ≠ 0: only IOMMU_VIOMMU_TYPE_SELFTEST (0xdeadbeef). */
export function mockViommuTypeSupported(type: number): boolean {
  return type === IOMMU_VIOMMU_TYPE_SELFTEST;
}

/**
 * `mock_viommu_init()`: without data, nothing; with data,
 * `iommu_copy_struct_from_user(&data, user_data, IOMMU_VIOMMU_TYPE_SELFTEST,
 * out_data)` — data_len other than 8 → EINVAL, unreadable → EFAULT — and
 * the loopback `out_data = in_data` copied back (all 8 bytes).
 */
export function mockViommuInit(data: UserData | undefined): ViommuInit | Errno {
  if (data === undefined) return { events: [] };
  if (data.type !== IOMMU_VIOMMU_TYPE_SELFTEST) return errno("EINVAL", "not IOMMU_VIOMMU_TYPE_SELFTEST data");
  if (data.len !== VIOMMU_SELFTEST_SIZE)
    return errno("EINVAL", `iommu_viommu_selftest is ${VIOMMU_SELFTEST_SIZE} bytes, not ${data.len}`);
  if (data.bytes === undefined || data.bytes.length < data.len)
    return errno("EFAULT", "data_uptr could not be read");
  const IN = iommuViommuSelftest.offsetOf("in_data");
  const inData = new DataView(data.bytes.buffer, data.bytes.byteOffset, data.len).getUint32(IN, true);
  const out = new Uint8Array(VIOMMU_SELFTEST_SIZE);
  const view = new DataView(out.buffer);
  view.setUint32(IN, inData, true);
  view.setUint32(iommuViommuSelftest.offsetOf("out_data"), inData, true);
  return { events: [], dataOut: out };
}

/**
 * `mock_viommu_alloc_domain_nested()`: flags other than
 * IOMMU_HWPT_ALLOC_PASID → EOPNOTSUPP; then a mock nested domain over the
 * vIOMMU's parent (selftest/nested.ts `decideMockNestedAlloc`, with its
 * errors and fault point), remembering the vIOMMU.
 */
export function mockViommuAllocNested(
  viommu: ViommuRef,
  kobj: number,
  flags: number,
  data: UserData,
  ctx: DecideContext,
): Decided | Errno {
  if (flags & ~IOMMU_HWPT_ALLOC_PASID) return errno("EOPNOTSUPP", "only IOMMU_HWPT_ALLOC_PASID is taken");
  return decideMockNestedAlloc(viommu.parent.domain, kobj, data, ctx, viommu.kobj);
}

/**
 * `mock_viommu_cache_invalidate()`: an empty array of type
 * IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST checks the type and does nothing;
 * else ENOMEM at fault point `selftest.viommu_invalidate` (the kcalloc of
 * a non-empty array),
 * then the whole array is copied first (`iommu_copy_struct_from_full_user_array`:
 * another type → EINVAL; each entry by copy_struct_from_user rules, shorter
 * zero-extended, longer with a non-zero tail → E2BIG, unreadable → EFAULT),
 * and nothing is done unless it all copied. Then entry by entry: unknown
 * flags → EOPNOTSUPP; `cache_id` > MOCK_DEV_CACHE_ID_MAX (3) → EINVAL
 * (checked even with IOMMU_TEST_INVALIDATE_FLAG_ALL); `vdev_id` naming no
 * vDEVICE of the vIOMMU → EINVAL; else the device's cache entry (all of
 * them with FLAG_ALL) becomes 0. Processing stops at the first error.
 * Events: one `iommufd.mock_dev.cache_cleared` per entry done.
 */
export function mockViommuInvalidate(
  root: HwRoot,
  viommu: ViommuRef,
  array: UserDataArray,
  ctx: DecideContext,
): UserInvalidation {
  if (array.entryNum === 0 && array.type === IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST)
    return { events: [], handled: 0 };
  // kcalloc(0, …) returns ZERO_SIZE_PTR without allocating: only a real array can fail.
  const fail = array.entryNum > 0 ? ctx.step("selftest.viommu_invalidate", "ENOMEM") : undefined;
  if (fail) return { events: [], handled: 0, error: fail };
  const entries = copyFullArray(array);
  if (isErrno(entries)) return { events: [], handled: 0, error: entries };
  const c = root.iommufd.contexts[viommu.ctx]!;
  const events: Decided = [];
  const stop = (error: Errno): UserInvalidation => ({ events, handled: events.length, error });
  for (const { flags, vdev_id, cache_id } of entries) {
    if (flags & ~IOMMU_TEST_INVALIDATE_FLAG_ALL) return stop(errno("EOPNOTSUPP", "unknown flags"));
    if (cache_id > MOCK_DEV_CACHE_ID_MAX)
      return stop(errno("EINVAL", `cache_id ${cache_id} > ${MOCK_DEV_CACHE_ID_MAX}`));
    const vdev = vdeviceByVirtId(c, viommu.id, BigInt(vdev_id));
    if (vdev === undefined) return stop(errno("EINVAL", `no vDEVICE ${vdev_id} on the vIOMMU`));
    const ids =
      flags & IOMMU_TEST_INVALIDATE_FLAG_ALL
        ? Array.from({ length: MOCK_DEV_CACHE_NUM }, (_, i) => i)
        : [cache_id];
    events.push({
      type: "iommufd.mock_dev.cache_cleared",
      data: { ctx: viommu.ctx, id: vdev.refs[1]!, ids },
    });
  }
  return { events, handled: events.length };
}

type InvEntry = { flags: number; vdev_id: number; cache_id: number };

/** `iommu_copy_struct_from_full_user_array()` of 12-byte entries (see `mockViommuInvalidate`). */
function copyFullArray(array: UserDataArray): InvEntry[] | Errno {
  if (array.type !== IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST)
    return errno("EINVAL", "not IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST");
  const out: InvEntry[] = [];
  for (let i = 0; i < array.entryNum; i++) {
    const start = i * array.entryLen;
    if (start + array.entryLen > array.data.length) return errno("EFAULT", `entry ${i} is not readable`);
    const user = array.data.subarray(start, start + array.entryLen);
    if (user.subarray(INV_SIZE).some((b) => b !== 0)) return errno("E2BIG", `entry ${i} has a non-zero tail`);
    const k = new Uint8Array(INV_SIZE);
    k.set(user.subarray(0, INV_SIZE));
    out.push(iommuViommuInvalidateSelftest.decode(k));
  }
  return out;
}
