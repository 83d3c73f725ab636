/**
 * IOMMU_IOAS_MAP and IOMMU_IOAS_COPY: inserting areas over iopt_pages and
 * filling every attached domain. Linux drivers/iommu/iommufd/ioas.c
 * (iommufd_ioas_map, iommufd_ioas_copy) and io_pagetable.c
 * (iopt_map_user_pages, iopt_get_pages, iopt_alloc_area_pages,
 * iopt_check_iova, iopt_insert_area); pages.c iopt_alloc_pages.
 */
import {
  type Errno,
  errno,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_FLAGS_ALL,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  isErrno,
} from "@iommu-sim/uapi";
import { PAGE_SIZE } from "../mm/state";
import { allocIova, areasIn, firstAreaFrom, intersects } from "./iova";
import type { DataOf, IoptDecided, IoptRoot } from "./messages";
import { accountModeFor, mapNewPages } from "./new-pages";
import { type Area, byteIndexRange, IOMMU_READ, IOMMU_WRITE, type Ioas, U64_MAX } from "./state";
import { type IoptCtx, PinTxn } from "./txn";
import { isAligned } from "./u64";

// Module-local copies of the uapi flags: read on every map, and a re-exported
// binding costs a getter chain per read where modules are transpiled to CommonJS.
const FIXED_IOVA = IOMMU_IOAS_MAP_FIXED_IOVA;
const FLAGS_ALL = IOMMU_IOAS_MAP_FLAGS_ALL;
const READABLE = IOMMU_IOAS_MAP_READABLE;
const WRITEABLE = IOMMU_IOAS_MAP_WRITEABLE;
const PAGE = BigInt(PAGE_SIZE);
/** The longest IOMMU_IOAS_MAP: ULONG_MAX − PAGE_SIZE bytes (ioas.c). */
const MAX_LENGTH = U64_MAX - PAGE;

/** A slice of an iopt_pages to become one area (struct iopt_pages_list). */
export interface PagesSlice {
  readonly pages: number;
  readonly startByte: bigint;
  readonly length: bigint;
  /** The prot of the source area (for access write checks); absent for new maps. */
  readonly prot?: number;
}

/** conv_iommu_prot(): IOMMU_IOAS_MAP_* flags → IOMMU_READ/IOMMU_WRITE. */
export function protOfFlags(flags: number): number {
  return (flags & WRITEABLE ? IOMMU_WRITE : 0) | (flags & READABLE ? IOMMU_READ : 0);
}

/** The flag checks shared by MAP and COPY: EOPNOTSUPP unknown flags, EINVAL neither READABLE nor WRITEABLE. */
function checkMapFlags(flags: number): Errno | undefined {
  if ((flags & ~FLAGS_ALL) !== 0) return errno("EOPNOTSUPP", "unknown IOMMU_IOAS_MAP flags");
  return undefined;
}

/**
 * iopt_check_iova() for a FIXED_IOVA request: EINVAL misaligned to the IOAS
 * alignment, EOVERFLOW when iova + length − 1 passes 2^64 − 1, EINVAL when a
 * reserved range intersects (Linux's choice), EEXIST over an existing area.
 */
export function checkIova(ioas: Ioas, iova: bigint, length: bigint): Errno | undefined {
  if (ioas.iovaAlignment !== 1 && !isAligned(iova, ioas.iovaAlignment))
    return errno("EINVAL", "IOVA misaligned to the IOAS alignment");
  const last = iova + length - 1n;
  if (last > U64_MAX) return errno("EOVERFLOW", "iova + length overflows");
  for (const r of ioas.reserved)
    if (intersects(r, iova, last)) return errno("EINVAL", "IOVA range is reserved");
  const i = firstAreaFrom(ioas.areas, iova);
  const a = ioas.areas[i];
  if (a !== undefined && a.iova <= last) return errno("EEXIST", "IOVA range already mapped");
  return undefined;
}

/**
 * iopt_map_pages(): place `slices` (total `length` bytes) consecutively at
 * `fixedIova` or an allocated IOVA, pin what attached domains need, and
 * emit `ioas.mapped` per area. `uptr` guides automatic alignment.
 */
function mapSlices(
  txn: PinTxn,
  ioas: Ioas,
  slices: readonly PagesSlice[],
  length: bigint,
  fixedIova: bigint | undefined,
  prot: number,
  uptr: bigint,
): Errno | undefined {
  const e = txn.ctx.step("iopt.area_alloc");
  if (e) return e;
  const align = BigInt(ioas.iovaAlignment);
  if (length % align !== 0n || length === 0n)
    return errno("EINVAL", "length misaligned to the IOAS alignment");
  let iova: bigint;
  if (fixedIova === undefined) {
    const r = allocIova(ioas, uptr, length);
    if ("error" in r) return errno(r.error, "no IOVA hole fits");
    iova = r.iova;
  } else {
    const c = checkIova(ioas, fixedIova, length);
    if (c) return c;
    iova = fixedIova;
  }
  const areas: Area[] = [];
  for (const s of slices) {
    const pages = txn.pagesOf(s.pages);
    if ((prot & IOMMU_WRITE) !== 0 && !pages.writable) return errno("EPERM", "pages are not writable");
    if ((s.startByte % PAGE) % align !== 0n)
      return errno("EINVAL", "page offset misaligned to the IOAS alignment");
    const area: Area = { iova, last: iova + s.length - 1n, pages: s.pages, startByte: s.startByte, prot };
    areas.push(area);
    txn.addArea(ioas.id, area);
    iova += s.length;
  }
  const r = txn.reconcile();
  if (r) return r;
  const domained = txn.hasDomain(ioas.id);
  for (const area of areas) {
    const { index, count } = byteIndexRange(area.startByte, area.last - area.iova + 1n);
    const pfnRuns = domained ? txn.frames(area.pages, index, count)! : [];
    txn.emit({
      type: "ioas.mapped",
      data: {
        ioas: ioas.id,
        iova: area.iova,
        length: area.last - area.iova + 1n,
        pages: area.pages,
        startByte: area.startByte,
        prot: area.prot,
        pfnRuns,
        offset: Number(area.startByte % PAGE),
      },
    });
  }
  return undefined;
}

/**
 * IOMMU_IOAS_MAP: map `length` bytes of process `pid`'s memory at `userVa`
 * into IOAS `ioas`, at `iova` with IOMMU_IOAS_MAP_FIXED_IOVA, else at the
 * lowest suitably aligned free IOVA. With domains attached the pages are
 * pinned (faulted in) and every domain maps them.
 *
 * Errors, in Linux's order: EOPNOTSUPP unknown flags; EOVERFLOW iova or
 * length ≥ 2^64 − 1; EINVAL neither READABLE nor WRITEABLE; ENOENT no IOAS;
 * ESRCH no process; EINVAL zero length or length > 2^64 − 1 − PAGE_SIZE;
 * EOVERFLOW userVa + length wraps past 2^64 (seed 002, "Check for uptr
 * overflow"); EINVAL length/IOVA misaligned; ENOSPC/EINVAL/EOVERFLOW from
 * allocation; EINVAL reserved, EEXIST mapped (fixed); EFAULT unmapped user
 * memory; ENOMEM over RLIMIT_MEMLOCK. The chosen IOVA is in the
 * `ioas.mapped` event (`mappedIova`), the command's only event besides
 * page faults: it carries the new iopt_pages (`created`) and their frames.
 * `accountMode` is the calling context's RLIMIT_MODE ("user" | "mm",
 * io_pagetable.c iopt_map_common()); it wins over iopt's global mode, and
 * CAP_IPC_LOCK still means no accounting (`accountModeFor`).
 */
export function decideIoasMap(root: IoptRoot, c: DataOf<"ioas.map">, ctx: IoptCtx): IoptDecided[] | Errno {
  const f = checkMapFlags(c.flags);
  if (f) return f;
  if (c.iova >= U64_MAX || c.length >= U64_MAX) return errno("EOVERFLOW", "iova or length ≥ 2^64 − 1");
  if ((c.flags & (WRITEABLE | READABLE)) === 0) return errno("EINVAL", "neither READABLE nor WRITEABLE");
  const ioas = root.iopt.ioas.get(c.ioas);
  if (ioas === undefined) return errno("ENOENT", `no IOAS ${c.ioas}`);
  const proc = root.mm.processes.get(c.pid);
  if (proc === undefined) return errno("ESRCH", `no process ${c.pid}`);
  if (c.length === 0n || c.length > MAX_LENGTH) return errno("EINVAL", "bad length");
  // check_add_overflow(uptr, length, &end): the end must itself fit in 64 bits.
  if (c.userVa + c.length > U64_MAX) return errno("EOVERFLOW", "user_va + length overflows 64 bits");
  // A page-aligned user VA (a VMM's usual map) is its own uptr, at the shared offset 0n.
  const off = c.userVa % PAGE;
  const src = {
    proc,
    uptr: off === 0n ? c.userVa : c.userVa - off,
    startByte: off === 0n ? 0n : off,
    writable: (c.flags & WRITEABLE) !== 0,
    accountMode: accountModeFor(root, proc, c.accountMode),
  };
  const fixed = (c.flags & FIXED_IOVA) !== 0 ? c.iova : undefined;
  return mapNewPages(root, ctx, ioas, src, c.length, fixed, protOfFlags(c.flags), c.userVa);
}

/**
 * IOMMU_IOAS_MAP_FILE: map `length` bytes of file object `file` from byte
 * `start` (Linux iopt_map_file_pages(), pages.c iopt_alloc_file_pages());
 * pages are pinned from the page cache (faulted in when untouched) and
 * accounted to process `pid`, the caller.
 * Errors: as MAP for flags and IOVA; EINVAL zero length; EOVERFLOW start +
 * length − 1 past 2^64 − 1; EBADF no such file; ESRCH no process; EINVAL
 * pinning pages past the end of the file (shmem_get_folio()). `accountMode`
 * as for MAP.
 */
export function decideIoasMapFile(
  root: IoptRoot,
  c: DataOf<"ioas.map_file">,
  ctx: IoptCtx,
): IoptDecided[] | Errno {
  const f = checkMapFlags(c.flags);
  if (f) return f;
  if (c.iova >= U64_MAX || c.length >= U64_MAX) return errno("EOVERFLOW", "iova or length ≥ 2^64 − 1");
  if ((c.flags & (WRITEABLE | READABLE)) === 0) return errno("EINVAL", "neither READABLE nor WRITEABLE");
  const ioas = root.iopt.ioas.get(c.ioas);
  if (ioas === undefined) return errno("ENOENT", `no IOAS ${c.ioas}`);
  if (c.length === 0n) return errno("EINVAL", "zero length");
  if (c.start + c.length - 1n > U64_MAX) return errno("EOVERFLOW", "start + length − 1 overflows");
  if (!root.mm.objects.has(c.file)) return errno("EBADF", `no file ${c.file}`);
  const proc = root.mm.processes.get(c.pid);
  if (proc === undefined) return errno("ESRCH", `no process ${c.pid}`);
  const base = c.start - (c.start % PAGE);
  const src = {
    proc,
    uptr: base,
    startByte: c.start - base,
    file: c.file,
    writable: (c.flags & WRITEABLE) !== 0,
    accountMode: accountModeFor(root, proc, c.accountMode),
  };
  const fixed = (c.flags & FIXED_IOVA) !== 0 ? c.iova : undefined;
  return mapNewPages(root, ctx, ioas, src, c.length, fixed, protOfFlags(c.flags), c.start);
}

/**
 * A check of one covering area, run in IOVA order while walking (the
 * per-area checks of Linux's iopt_for_each_contig_area loops): `cur` is the
 * first IOVA of the range inside `area`, `done` whether the range ends in it.
 */
export type AreaCheck = (area: Area, cur: bigint, done: boolean) => Errno | undefined;

/**
 * iopt_get_pages(): the slices of the areas that contiguously cover
 * [iova, iova + length − 1]. EINVAL zero length, EOVERFLOW wrap, ENOENT
 * when an IOVA in the range is not mapped; `check`'s error for the first
 * area that fails it (before any later hole, as Linux's walks report).
 */
export function getPages(ioas: Ioas, iova: bigint, length: bigint, check?: AreaCheck): PagesSlice[] | Errno {
  if (length === 0n) return errno("EINVAL", "zero length");
  const last = iova + length - 1n;
  if (last > U64_MAX) return errno("EOVERFLOW", "iova + length overflows");
  const out: PagesSlice[] = [];
  let cur = iova;
  for (const a of areasIn(ioas, iova, last)) {
    if (a.iova > cur) break;
    const end = a.last < last ? a.last : last;
    const bad = check?.(a, cur, end === last);
    if (bad) return bad;
    out.push({
      pages: a.pages,
      startByte: a.startByte + (cur - a.iova),
      length: end - cur + 1n,
      prot: a.prot,
    });
    if (end === last) return out;
    cur = end + 1n;
  }
  return errno("ENOENT", "source range not fully mapped");
}

/**
 * IOMMU_IOAS_COPY: map [srcIova, srcIova + length) of `srcIoas` into
 * `dstIoas` (which may be the same) sharing the same iopt_pages — no new
 * pins unless the destination's domains need pages not yet pinned.
 * Errors: as MAP for flags/overflow; ENOENT unknown IOAS or a source range
 * not fully mapped; EPERM WRITEABLE over read-only pages; then the
 * destination's IOVA errors.
 */
export function decideIoasCopy(root: IoptRoot, c: DataOf<"ioas.copy">, ctx: IoptCtx): IoptDecided[] | Errno {
  const f = checkMapFlags(c.flags);
  if (f) return f;
  if (c.length >= U64_MAX || c.srcIova >= U64_MAX || c.dstIova >= U64_MAX)
    return errno("EOVERFLOW", "iova or length ≥ 2^64 − 1");
  if ((c.flags & (WRITEABLE | READABLE)) === 0) return errno("EINVAL", "neither READABLE nor WRITEABLE");
  const src = root.iopt.ioas.get(c.srcIoas);
  if (src === undefined) return errno("ENOENT", `no IOAS ${c.srcIoas}`);
  const slices = getPages(src, c.srcIova, c.length);
  if (isErrno(slices)) return slices;
  const e = ctx.step("iopt.get_pages");
  if (e) return e;
  const dst = root.iopt.ioas.get(c.dstIoas);
  if (dst === undefined) return errno("ENOENT", `no IOAS ${c.dstIoas}`);
  const txn = new PinTxn(root, ctx);
  const first = slices[0]!;
  const uptr = txn.pagesOf(first.pages).uptr + first.startByte;
  const fixed = (c.flags & FIXED_IOVA) !== 0 ? c.dstIova : undefined;
  const r = mapSlices(txn, dst, slices, c.length, fixed, protOfFlags(c.flags), uptr);
  if (r) return r;
  return txn.finish();
}

/** The IOVA an IOAS map or copy chose: the first `ioas.mapped` event's. */
export function mappedIova(events: readonly { type: string; data: unknown }[]): bigint | undefined {
  const e = events.find((x) => x.type === "ioas.mapped");
  return e === undefined ? undefined : (e.data as { iova: bigint }).iova;
}
