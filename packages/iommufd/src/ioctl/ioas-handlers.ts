/**
 * IOAS ioctls (Linux drivers/iommu/iommufd/ioas.c): ALLOC, MAP, UNMAP, COPY,
 * ALLOW_IOVAS, IOVA_RANGES and the HUGE_PAGES option. Each checks what
 * ioas.c checks before calling into io_pagetable.c (iopt), in its order.
 */
import { iovaRanges, mappedIova, unmappedLength } from "@iommu-sim/iopt";
import {
  type Errno,
  IOMMU_VFIO_IOAS_CLEAR,
  IOMMU_VFIO_IOAS_GET,
  IOMMU_VFIO_IOAS_SET,
  isErrno,
} from "@iommu-sim/uapi";
import type { IommufdRoot } from "../root";
import { compatIoas } from "../vfio-ioas";
import { callerPid, type IoctlCall, respond, ret } from "./call";
import { kobjOf } from "./resolve";

type Call = IoctlCall<IommufdRoot>;
const U64_MAX = (1n << 64n) - 1n;
const EOVERFLOW = -75;
const EINVAL = -22;
const EMSGSIZE = -90;
const EBADF = -9;
const IOVA_RANGE_SIZE = 16; // struct iommu_iova_range {__aligned_u64 start, last}

function dispatch(
  call: Call,
  command: { type: string; data: unknown },
): readonly { type: string; data: unknown }[] | Errno {
  return call.env.dispatch(command);
}

/** IOMMU_IOAS_ALLOC → out_ioas_id. */
export function ioasAlloc(call: Call): number {
  const r = dispatch(call, { type: "iommufd.ioas.alloc", data: { ctx: call.ctx } });
  if (isErrno(r)) return r.ret;
  const created = r.find((e) => e.type === "iommufd.object.created")!.data as { id: number };
  respond(call, { ...call.value, out_ioas_id: created.id });
  return 0;
}

/** IOMMU_IOAS_MAP: iova ≥ ULONG_MAX or length ≥ ULONG_MAX → EOVERFLOW; neither READABLE nor WRITEABLE → EINVAL. */
export function ioasMap(call: Call): number {
  const v = call.value as { flags: number; ioas_id: number; user_va: bigint; length: bigint; iova: bigint };
  if (v.iova >= U64_MAX || v.length >= U64_MAX) return EOVERFLOW;
  if ((v.flags & 0x6) === 0) return EINVAL; // IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE
  const root = call.env.peek();
  const ioas = kobjOf(root, call.ctx, v.ioas_id, "ioas");
  if (isErrno(ioas)) return ioas.ret;
  // The context's RLIMIT_MODE decides who the new iopt_pages charge (io_pagetable.c iopt_map_common());
  // the pages are the caller's (iopt_alloc_user_pages(): current->mm).
  const { accountMode } = root.iommufd.contexts[call.ctx]!;
  const pid = callerPid(call);
  const r = dispatch(call, {
    type: "ioas.map",
    data: { ioas, pid, userVa: v.user_va, length: v.length, iova: v.iova, flags: v.flags, accountMode },
  });
  if (isErrno(r)) return r.ret;
  respond(call, { ...call.value, iova: mappedIova(r) ?? v.iova });
  return 0;
}

/**
 * IOMMU_IOAS_MAP_FILE (`struct iommu_ioas_map_file {size, flags, ioas_id,
 * fd, start, length, iova}`; Linux ioas.c iommufd_ioas_map_file() →
 * io_pagetable.c iopt_map_file_pages()): maps `length` bytes of the memfd
 * `fd` from byte `start`, answering the IOVA. Checks in Linux's order:
 * unknown flags → EOPNOTSUPP (decode); iova or length ≥ ULONG_MAX →
 * EOVERFLOW; neither READABLE nor WRITEABLE → EINVAL; no such IOAS →
 * ENOENT; `fd` not open → EBADF (`env.fileObject`); then iopt's checks
 * (zero length EINVAL, start + length − 1 wrap EOVERFLOW, IOVA errors).
 * Pinning pages at or past the file's end (only when a domain or access
 * pins at map time) is iopt's EINVAL (shmem_get_folio()).
 */
export function ioasMapFile(call: Call): number {
  const v = call.value as {
    flags: number;
    ioas_id: number;
    fd: number;
    start: bigint;
    length: bigint;
    iova: bigint;
  };
  if (v.iova >= U64_MAX || v.length >= U64_MAX) return EOVERFLOW;
  if ((v.flags & 0x6) === 0) return EINVAL; // IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE
  const root = call.env.peek();
  const ioas = kobjOf(root, call.ctx, v.ioas_id, "ioas");
  if (isErrno(ioas)) return ioas.ret;
  const file = call.env.fileObject?.(v.fd);
  if (file === undefined) return EBADF;
  if (isErrno(file)) return file.ret;
  const { accountMode } = root.iommufd.contexts[call.ctx]!;
  const r = dispatch(call, {
    type: "ioas.map_file",
    data: {
      ioas,
      pid: callerPid(call),
      file,
      start: v.start,
      length: v.length,
      iova: v.iova,
      flags: v.flags,
      accountMode,
    },
  });
  if (isErrno(r)) return r.ret;
  respond(call, { ...call.value, iova: mappedIova(r) ?? v.iova });
  return 0;
}

/** IOMMU_IOAS_UNMAP: (0, U64_MAX) unmaps everything; else ≥ ULONG_MAX → EOVERFLOW. Answers the length unmapped. */
export function ioasUnmap(call: Call): number {
  const v = call.value as { ioas_id: number; iova: bigint; length: bigint };
  const ioas = kobjOf(call.env.peek(), call.ctx, v.ioas_id, "ioas");
  if (isErrno(ioas)) return ioas.ret;
  const all = v.iova === 0n && v.length === U64_MAX;
  if (!all && (v.iova >= U64_MAX || v.length >= U64_MAX)) return EOVERFLOW;
  const r = dispatch(call, { type: "ioas.unmap", data: { ioas, iova: v.iova, length: v.length } });
  if (isErrno(r)) return r.ret;
  respond(call, { ...call.value, length: unmappedLength(r) });
  return 0;
}

/** IOMMU_IOAS_COPY: EOVERFLOW as MAP; the source IOAS is looked up first, then the destination. */
export function ioasCopy(call: Call): number {
  const v = call.value as {
    flags: number;
    dst_ioas_id: number;
    src_ioas_id: number;
    length: bigint;
    dst_iova: bigint;
    src_iova: bigint;
  };
  if (v.length >= U64_MAX || v.src_iova >= U64_MAX || v.dst_iova >= U64_MAX) return EOVERFLOW;
  const root = call.env.peek();
  const src = kobjOf(root, call.ctx, v.src_ioas_id, "ioas");
  if (isErrno(src)) return src.ret;
  const dst = kobjOf(root, call.ctx, v.dst_ioas_id, "ioas");
  if (isErrno(dst)) return dst.ret;
  const r = dispatch(call, {
    type: "ioas.copy",
    data: {
      dstIoas: dst,
      srcIoas: src,
      srcIova: v.src_iova,
      dstIova: v.dst_iova,
      length: v.length,
      flags: v.flags,
    },
  });
  if (isErrno(r)) return r.ret;
  respond(call, { ...call.value, dst_iova: mappedIova(r) ?? v.dst_iova });
  return 0;
}

/**
 * IOMMU_IOAS_ALLOW_IOVAS: reads num_iovas ranges at allowed_iovas one by one,
 * as iommufd_ioas_allow_iovas() does (EFAULT at the first unreadable one, so
 * a huge num_iovas never allocates more than the readable ranges);
 * start > last → EINVAL.
 */
export function ioasAllowIovas(call: Call): number {
  const v = call.value as { ioas_id: number; num_iovas: number; allowed_iovas: bigint };
  const ioas = kobjOf(call.env.peek(), call.ctx, v.ioas_id, "ioas");
  if (isErrno(ioas)) return ioas.ret;
  const ranges: { start: bigint; last: bigint }[] = [];
  for (let i = 0; i < v.num_iovas; i++) {
    const bytes = call.env.user.read(v.allowed_iovas + BigInt(i * IOVA_RANGE_SIZE), IOVA_RANGE_SIZE);
    if (isErrno(bytes)) return bytes.ret;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const start = view.getBigUint64(0, true);
    const last = view.getBigUint64(8, true);
    if (start > last) return EINVAL;
    ranges.push({ start, last });
  }
  return ret(errOf(dispatch(call, { type: "ioas.allow_iovas", data: { ioas, ranges } })));
}

/**
 * IOMMU_IOAS_IOVA_RANGES: writes up to num_iovas usable ranges at
 * allowed_iovas, answers the full count and out_iova_alignment, then
 * EMSGSIZE if the array was too short (the answer is written first).
 */
export function ioasIovaRanges(call: Call): number {
  const v = call.value as { ioas_id: number; num_iovas: number; allowed_iovas: bigint };
  const root = call.env.peek();
  const ioas = kobjOf(root, call.ctx, v.ioas_id, "ioas");
  if (isErrno(ioas)) return ioas.ret;
  const r = iovaRanges(root, ioas);
  if (isErrno(r)) return r.ret;
  const n = Math.min(v.num_iovas, r.ranges.length);
  if (n > 0) {
    const out = new Uint8Array(n * IOVA_RANGE_SIZE);
    const view = new DataView(out.buffer);
    for (let i = 0; i < n; i++) {
      view.setBigUint64(i * IOVA_RANGE_SIZE, r.ranges[i]!.start, true);
      view.setBigUint64(i * IOVA_RANGE_SIZE + 8, r.ranges[i]!.last, true);
    }
    const e = call.env.user.write(v.allowed_iovas, out);
    if (e) return e.ret;
  }
  respond(call, {
    ...call.value,
    num_iovas: r.ranges.length,
    out_iova_alignment: BigInt(r.outIovaAlignment),
  });
  return r.ranges.length > v.num_iovas ? EMSGSIZE : 0;
}

/** IOMMU_OPTION_HUGE_PAGES on an IOAS: GET answers 1 when large pages are on; SET 0/1 (else EINVAL, in iopt). */
export function ioasOptionHugePages(call: Call, op: "get" | "set", objectId: number, val64: bigint): number {
  const root = call.env.peek();
  const ioas = kobjOf(root, call.ctx, objectId, "ioas");
  if (isErrno(ioas)) return ioas.ret;
  if (op === "get") {
    const disabled = root.iopt.ioas.get(ioas)!.disableLargePages;
    respond(call, { ...call.value, val64: disabled ? 0n : 1n });
    return 0;
  }
  return ret(errOf(dispatch(call, { type: "ioas.set_huge_pages", data: { ioas, val64 } })));
}

function errOf(r: readonly unknown[] | Errno): Errno | undefined {
  return isErrno(r) ? r : undefined;
}

/**
 * IOMMU_VFIO_IOAS (vfio_compat.c iommufd_vfio_ioas): op GET answers the
 * compat IOAS id (ENODEV when none), SET makes ioas_id the compat IOAS
 * (ENOENT unless an IOAS), CLEAR unsets it; another op → EOPNOTSUPP.
 */
export function vfioIoas(call: Call): number {
  const v = call.value as { ioas_id: number; op: number };
  switch (v.op) {
    case IOMMU_VFIO_IOAS_GET: {
      const id = compatIoas(call.env.peek(), call.ctx);
      if (isErrno(id)) return id.ret;
      respond(call, { ...call.value, ioas_id: id });
      return 0;
    }
    case IOMMU_VFIO_IOAS_SET:
    case IOMMU_VFIO_IOAS_CLEAR: {
      // object ids start at 1, so SET of id 0 is a failed lookup (0 means CLEAR in the command)
      if (v.op === IOMMU_VFIO_IOAS_SET && v.ioas_id === 0) return -2; // ENOENT
      const ioasId = v.op === IOMMU_VFIO_IOAS_SET ? v.ioas_id : 0;
      return ret(errOf(dispatch(call, { type: "iommufd.vfio_ioas.set", data: { ctx: call.ctx, ioasId } })));
    }
    default:
      return -95; // EOPNOTSUPP
  }
}
