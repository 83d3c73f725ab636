/**
 * The IOMMU_TEST_CMD access operations on bytes (Linux
 * drivers/iommu/iommufd/selftest.c iommufd_test() cases
 * IOMMU_TEST_OP_CREATE_ACCESS, _ACCESS_PAGES, _DESTROY_ACCESS_PAGES,
 * _ACCESS_RW, _ACCESS_REPLACE_IOAS and _SET_TEMP_MEMORY_LIMIT). Every op
 * but CREATE_ACCESS names its access by the access *fd* in `id`
 * (iommufd_access_get(): anything else is EBADFD); see `resolveAccess`.
 * Returns 0 or −errno, like the other handlers.
 */
import { accessRead } from "@iommu-sim/iopt";
import {
  isErrno,
  MOCK_ACCESS_RW_SLOW_PATH,
  MOCK_ACCESS_RW_WRITE,
  MOCK_FLAGS_ACCESS_SYZ,
  MOCK_FLAGS_ACCESS_WRITE,
} from "@iommu-sim/uapi";
import type { IommufdRoot } from "../root";
import { accessObject } from "../selftest/access";
import { type IoctlCall, respondU32 } from "./call";

type Call = IoctlCall<IommufdRoot>;

/** Offset of the union in struct iommu_test_cmd. */
const UNION = 16;
/** The selftest refuses longer ACCESS_PAGES / ACCESS_RW (a kvzalloc() WARN guard): ENOMEM. */
const MAX_ACCESS_LENGTH = 16n * 1024n * 1024n;
/** selftest.c: SET_TEMP_MEMORY_LIMIT below sizeof(unsigned long) + sizeof(u32) bytes is EINVAL. */
const MIN_MEMORY_LIMIT = 12;
const ENOMEM = -12;
const EINVAL = -22;
const EOPNOTSUPP = -95;
const EBADFD = -77;

/** The union members the access ops read (decoded by the generic copy-in). */
export interface AccessTestCmd {
  id: number;
  create_access: { flags: number };
  destroy_access_pages: { access_pages_id: number };
  access_pages: { flags: number; iova: bigint; length: bigint; uptr: bigint };
  access_rw: { iova: bigint; length: bigint; uptr: bigint; flags: number };
  memory_limit: { limit: number };
  access_replace_ioas: { ioas_id: number };
}

/** An access named by an fd: its context and object id. */
interface AccessRef {
  readonly ctx: number;
  readonly id: number;
}

/**
 * The access behind access fd `fd`: through `env.fileOf` when the caller
 * has an fd table, else `fd` is the object id in the calling context.
 * −EBADFD when it is not a live access.
 */
function resolveAccess(call: Call, fd: number): AccessRef | number {
  let ref: AccessRef = { ctx: call.ctx, id: fd };
  if (call.env.fileOf !== undefined) {
    const file = call.env.fileOf(fd);
    if (file === undefined || file.kind !== "access") return EBADFD;
    ref = { ctx: file.ctx, id: file.id };
  }
  return isErrno(accessObject(call.env.peek(), ref.ctx, ref.id)) ? EBADFD : ref;
}

/**
 * MOCK_FLAGS_ACCESS_SYZ (selftest.c __iommufd_test_syz_conv_iova): the u64
 * `iova` is {u32 nth_area, u32 offset}; the result is the nth area's
 * IOVA + offset in the access's IOAS, or 0 without an nth area.
 */
function syzIova(root: IommufdRoot, ref: AccessRef, iova: bigint): bigint {
  const o = root.iommufd.contexts[ref.ctx]!.objects[ref.id]!;
  const access = root.iopt.accesses.get(o.kobj!)!;
  const areas = root.iopt.ioas.get(access.ioas)!.areas;
  const area = areas[Number(iova & 0xffff_ffffn)];
  return area === undefined ? 0n : BigInt.asUintN(64, area.iova + (iova >> 32n));
}

/**
 * IOMMU_TEST_OP_CREATE_ACCESS: `id` = IOAS, `create_access.flags`; answers
 * `out_access_fd` — the fd `env.installFd` gives the new access's file
 * (without it, the object id). A failed install undoes the access and is
 * ENOMEM, as a failed get_unused_fd_flags() is in Linux.
 */
export function createAccess(call: Call, v: AccessTestCmd): number {
  const r = call.env.dispatch({
    type: "iommufd.selftest.access_create",
    data: { ctx: call.ctx, ioasId: v.id, flags: v.create_access.flags },
  });
  if (isErrno(r)) return r.ret;
  const created = r.find((e) => e.type === "iommufd.object.created")!.data as { id: number };
  const fd = call.env.installFd
    ? call.env.installFd({ kind: "access", ctx: call.ctx, id: created.id })
    : created.id;
  if (fd < 0) {
    call.env.dispatch({ type: "iommufd.selftest.access_destroy", data: { ctx: call.ctx, id: created.id } });
    return ENOMEM;
  }
  respondU32(call, UNION, fd);
  return 0;
}

/** IOMMU_TEST_OP_ACCESS_PAGES: `id` = access fd; answers `out_access_pages_id`. */
export function accessPages(call: Call, v: AccessTestCmd): number {
  const { flags, iova, length, uptr } = v.access_pages;
  if (length > MAX_ACCESS_LENGTH) return ENOMEM;
  if ((flags & ~(MOCK_FLAGS_ACCESS_WRITE | MOCK_FLAGS_ACCESS_SYZ)) !== 0) return EOPNOTSUPP;
  const ref = resolveAccess(call, v.id);
  if (typeof ref === "number") return ref;
  const at = (flags & MOCK_FLAGS_ACCESS_SYZ) !== 0 ? syzIova(call.env.peek(), ref, iova) : iova;
  const r = call.env.dispatch({
    type: "iommufd.selftest.access_pages",
    data: {
      ...ref,
      iova: at,
      length,
      write: (flags & MOCK_FLAGS_ACCESS_WRITE) !== 0,
      uptr,
      ...(call.env.pid === undefined ? {} : { pid: call.env.pid }),
    },
  });
  if (isErrno(r)) return r.ret;
  const added = r.find((e) => e.type === "iommufd.selftest.access_item_added")!.data as { item: number };
  respondU32(call, UNION + 4, added.item);
  return 0;
}

/** IOMMU_TEST_OP_DESTROY_ACCESS_PAGES: `id` = access fd, `access_pages_id`. */
export function destroyAccessPages(call: Call, v: AccessTestCmd): number {
  const ref = resolveAccess(call, v.id);
  if (typeof ref === "number") return ref;
  const r = call.env.dispatch({
    type: "iommufd.selftest.access_pages_destroy",
    data: { ...ref, item: v.destroy_access_pages.access_pages_id },
  });
  return isErrno(r) ? r.ret : 0;
}

/** Read `length` bytes at `iova` through the access into the caller's `uptr` (a query: nothing is logged but the user write). */
function accessReadTo(call: Call, ref: AccessRef, iova: bigint, length: bigint, uptr: bigint): number {
  const root = call.env.peek();
  const kobj = root.iommufd.contexts[ref.ctx]!.objects[ref.id]!.kobj!;
  const data = accessRead(root, kobj, iova, Number(length));
  if (isErrno(data)) return data.ret;
  const e = call.env.user.write(uptr, data);
  return e === undefined ? 0 : e.ret;
}

/**
 * IOMMU_TEST_OP_ACCESS_RW: `id` = access fd; copies `length` bytes between
 * the caller's `uptr` and the IOAS at `iova` (MOCK_ACCESS_RW_WRITE: user →
 * IOAS; SLOW_PATH changes nothing observable).
 */
export function accessRw(call: Call, v: AccessTestCmd): number {
  const { iova, length, uptr, flags } = v.access_rw;
  if (length > MAX_ACCESS_LENGTH) return ENOMEM;
  if ((flags & ~(MOCK_ACCESS_RW_WRITE | MOCK_ACCESS_RW_SLOW_PATH | MOCK_FLAGS_ACCESS_SYZ)) !== 0)
    return EOPNOTSUPP;
  const ref = resolveAccess(call, v.id);
  if (typeof ref === "number") return ref;
  const syz = (flags & MOCK_FLAGS_ACCESS_SYZ) !== 0;
  if ((flags & MOCK_ACCESS_RW_WRITE) === 0)
    return accessReadTo(call, ref, syz ? syzIova(call.env.peek(), ref, iova) : iova, length, uptr);
  // copy_from_user() comes before the IOVA conversion and the access, as in selftest.c.
  const bytes = call.env.user.read(uptr, Number(length));
  if (isErrno(bytes)) return bytes.ret;
  const at = syz ? syzIova(call.env.peek(), ref, iova) : iova;
  const r = call.env.dispatch({ type: "iommufd.selftest.access_write", data: { ...ref, iova: at, bytes } });
  return isErrno(r) ? r.ret : 0;
}

/** IOMMU_TEST_OP_ACCESS_REPLACE_IOAS: `id` = access fd, `ioas_id`. */
export function accessReplaceIoas(call: Call, v: AccessTestCmd): number {
  const ref = resolveAccess(call, v.id);
  if (typeof ref === "number") return ref;
  const r = call.env.dispatch({
    type: "iommufd.selftest.access_replace_ioas",
    data: { ...ref, ioasId: v.access_replace_ioas.ioas_id },
  });
  return isErrno(r) ? r.ret : 0;
}

/**
 * IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT: `memory_limit.limit` in bytes caps
 * Linux's PFN batch buffers (iommufd_test_memory_limit, a global); EINVAL
 * below 12 bytes. The model has no batches, so the limit changes nothing
 * observable and is not recorded.
 */
export function setTempMemoryLimit(_call: Call, v: AccessTestCmd): number {
  return v.memory_limit.limit < MIN_MEMORY_LIMIT ? EINVAL : 0;
}
