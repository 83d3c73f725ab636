/**
 * The byte side of nested HWPTs: copying IOMMU_HWPT_ALLOC's driver data
 * from `data_uptr`, and IOMMU_HWPT_INVALIDATE (Linux hw_pagetable.c
 * iommufd_hwpt_invalidate) with its `entry_num` write-back.
 */
import { ERRNO, type ErrnoName, isErrno } from "@iommu-sim/uapi";
import type { IommufdRoot } from "../root";
import { type IoctlCall, respond } from "./call";
import type { UserMemory } from "./env";

type Call = IoctlCall<IommufdRoot>;

/**
 * The most bytes copied from user memory for one request's driver data
 * (16 MiB). Linux has no such limit; a longer `data_len` or entry array
 * is treated as unreadable past it (EFAULT where the driver gets there).
 */
export const MAX_USER_DATA = 16 * 1024 * 1024;

/**
 * IOMMU_HWPT_ALLOC's driver data as the command carries it: `{data}`
 * with the `data_len` bytes at `data_uptr`, or `{}` when there are none
 * or they cannot be read (the driver's copy then answers EFAULT).
 */
export function hwptAllocData(user: UserMemory, dataLen: number, dataUptr: bigint): { data?: Uint8Array } {
  if (dataLen === 0 || dataLen > MAX_USER_DATA) return {};
  const bytes = user.read(dataUptr, dataLen);
  return isErrno(bytes) ? {} : { data: bytes };
}

/**
 * The entries of an invalidation request: all `entryNum` × `entryLen`
 * bytes at `uptr`, or — when they cannot all be read — the readable
 * whole entries from the start (copy_from_user faults at the first entry
 * not readable).
 */
function readEntries(user: UserMemory, uptr: bigint, entryLen: number, entryNum: number): Uint8Array {
  const total = entryLen * entryNum;
  if (total === 0) return new Uint8Array(0);
  if (total <= MAX_USER_DATA) {
    const all = user.read(uptr, total);
    if (!isErrno(all)) return all;
  }
  const fit = Math.min(entryNum, Math.floor(MAX_USER_DATA / entryLen));
  const out = new Uint8Array(fit * entryLen);
  for (let i = 0; i < fit; i++) {
    const e = user.read(uptr + BigInt(i * entryLen), entryLen);
    if (isErrno(e)) return out.subarray(0, i * entryLen);
    out.set(e, i * entryLen);
  }
  return out;
}

/**
 * IOMMU_HWPT_INVALIDATE: `{size, hwpt_id, data_uptr, data_type,
 * entry_len, entry_num, __reserved}` (hw_pagetable.c
 * iommufd_hwpt_invalidate). A non-zero `__reserved` → EOPNOTSUPP;
 * `entry_num` > 0 with `data_uptr` 0 or `entry_len` 0 → EINVAL; then `iommufd.hwpt.invalidate` (see
 * hwpt-invalidate.ts). `entry_num` is written back with the number of
 * entries processed — 0 on any error before the first — and the errno
 * that stopped processing is returned.
 */
export function hwptInvalidate(call: Call): number {
  const v = call.value as {
    hwpt_id: number;
    data_uptr: bigint;
    data_type: number;
    entry_len: number;
    entry_num: number;
    __reserved: number;
  };
  const answer = (handled: number, rc: number): number => {
    respond(call, { ...call.value, entry_num: handled });
    return rc;
  };
  if (v.__reserved !== 0) return answer(0, -ERRNO.EOPNOTSUPP); // checked here, not at copy-in (dispatch.ts)
  if (v.entry_num !== 0 && (v.data_uptr === 0n || v.entry_len === 0)) return answer(0, -ERRNO.EINVAL);
  const r = call.env.dispatch({
    type: "iommufd.hwpt.invalidate",
    data: {
      ctx: call.ctx,
      hwptId: v.hwpt_id,
      dataType: v.data_type,
      entryLen: v.entry_len,
      entryNum: v.entry_num,
      data: readEntries(call.env.user, v.data_uptr, v.entry_len, v.entry_num),
    },
  });
  if (isErrno(r)) return answer(0, r.ret);
  const done = r.find((e) => e.type === "iommufd.hwpt.invalidated")!.data as {
    handled: number;
    error?: ErrnoName;
  };
  return answer(done.handled, done.error === undefined ? 0 : -ERRNO[done.error]);
}
