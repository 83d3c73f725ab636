/**
 * Allowed and reserved IOVA ranges, the IOVA_RANGES query, and the IOAS
 * options. Linux ioas.c (iommufd_ioas_iova_ranges, iommufd_ioas_allow_iovas,
 * iommufd_ioas_option_huge_pages, iommufd_option_rlimit_mode) and
 * io_pagetable.c (iopt_set_allow_iova, iopt_reserve_iova,
 * iopt_remove_reserved_iova, iopt_{en,dis}able_large_pages).
 */
import { type Errno, errno } from "@iommu-sim/uapi";
import { checkAreasAligned, computeAlignment } from "./alignment";
import { holes, intersects, mergeRanges } from "./iova";
import type { DataOf, IoptDecided, IoptRoot } from "./messages";
import { ACCOUNT_MM, ACCOUNT_USER, type IovaRange, U64_MAX } from "./state";
import type { IoptCtx } from "./txn";

/**
 * IOMMU_IOAS_ALLOW_IOVAS: replace the allowed set (empty = no restriction).
 * Errors: ENOENT no IOAS; EINVAL a range with start ≥ last or two ranges
 * overlapping; EADDRINUSE a range intersecting a reserved one.
 */
export function decideAllowIovas(
  root: IoptRoot,
  c: DataOf<"ioas.allow_iovas">,
  ctx: IoptCtx,
): IoptDecided[] | Errno {
  const ioas = root.iopt.ioas.get(c.ioas);
  if (ioas === undefined) return errno("ENOENT", `no IOAS ${c.ioas}`);
  const loaded: IovaRange[] = [];
  for (const r of c.ranges) {
    if (r.start >= r.last) return errno("EINVAL", "allowed range with start ≥ last");
    if (loaded.some((x) => intersects(x, r.start, r.last))) return errno("EINVAL", "allowed ranges overlap");
    const e = ctx.step("iopt.allowed_alloc");
    if (e) return e;
    loaded.push({ start: r.start, last: r.last });
  }
  for (const r of loaded)
    if (ioas.reserved.some((x) => intersects(x, r.start, r.last)))
      return errno("EADDRINUSE", "allowed range intersects a reserved range");
  loaded.sort((a, b) => (a.start < b.start ? -1 : 1));
  return [{ type: "ioas.iovas_allowed", data: { ioas: ioas.id, ranges: loaded } }];
}

/**
 * iopt_reserve_iova() — reserved regions of attached devices (e.g. the x86
 * MSI window 0xfee00000–0xfeefffff) and IOMMU_TEST_OP_ADD_RESERVED.
 * Errors: ENOENT no IOAS; EINVAL start > last; EADDRINUSE intersecting an
 * area or an allowed range.
 */
export function decideReserve(
  root: IoptRoot,
  c: DataOf<"ioas.reserve">,
  ctx: IoptCtx,
): IoptDecided[] | Errno {
  const ioas = root.iopt.ioas.get(c.ioas);
  if (ioas === undefined) return errno("ENOENT", `no IOAS ${c.ioas}`);
  if (c.start > c.last) return errno("EINVAL", "start > last");
  if (
    ioas.areas.some((a) => intersects({ start: a.iova, last: a.last }, c.start, c.last)) ||
    ioas.allowed.some((a) => intersects(a, c.start, c.last))
  )
    return errno("EADDRINUSE", "range is mapped or allowed");
  const e = ctx.step("iopt.reserve_iova");
  if (e) return e;
  return [{ type: "ioas.reserved", data: { ioas: ioas.id, start: c.start, last: c.last, owner: c.owner } }];
}

/** iopt_remove_reserved_iova(): drop every range of `owner`. ENOENT for no IOAS. */
export function decideUnreserve(root: IoptRoot, c: DataOf<"ioas.unreserve">): IoptDecided[] | Errno {
  const ioas = root.iopt.ioas.get(c.ioas);
  if (ioas === undefined) return errno("ENOENT", `no IOAS ${c.ioas}`);
  if (!ioas.reserved.some((r) => r.owner === c.owner)) return [];
  return [{ type: "ioas.unreserved", data: { ioas: ioas.id, owner: c.owner } }];
}

/**
 * IOMMU_OPTION_HUGE_PAGES set: 1 enables large pages (alignment may
 * shrink); 0 disables them, forcing PAGE_SIZE alignment.
 * Errors: ENOENT no IOAS; EINVAL another value, or disabling while domains
 * already map areas; EADDRINUSE an area not PAGE_SIZE aligned.
 */
export function decideSetHugePages(root: IoptRoot, c: DataOf<"ioas.set_huge_pages">): IoptDecided[] | Errno {
  const ioas = root.iopt.ioas.get(c.ioas);
  if (ioas === undefined) return errno("ENOENT", `no IOAS ${c.ioas}`);
  if (c.val64 !== 0n && c.val64 !== 1n) return errno("EINVAL", "IOMMU_OPTION_HUGE_PAGES is 0 or 1");
  const disable = c.val64 === 0n;
  const accesses = ioas.accesses.map((a) => root.iopt.accesses.get(a)!.iovaAlignment);
  if (disable) {
    if (ioas.disableLargePages) return [];
    if (ioas.domains.length > 0 && ioas.areas.length > 0)
      return errno("EINVAL", "domains already map areas with large pages");
  }
  const align = computeAlignment(disable, ioas.domains, accesses);
  if (align > ioas.iovaAlignment) {
    const e = checkAreasAligned(ioas, align);
    if (e) return e;
  }
  return [
    {
      type: "ioas.alignment_changed",
      data: { ioas: ioas.id, disableLargePages: disable, iovaAlignment: BigInt(align) },
    },
  ];
}

/**
 * IOMMU_OPTION_RLIMIT_MODE set (needs CAP_SYS_RESOURCE, assumed): 0 charges
 * pins to the user (user->locked_vm), 1 to the process (mm->locked_vm).
 * Errors: EBUSY once any IOAS or pages exist; EINVAL another value.
 */
export function decideSetRlimitMode(
  root: IoptRoot,
  c: DataOf<"iopt.set_rlimit_mode">,
): IoptDecided[] | Errno {
  if (root.iopt.ioas.size > 0 || root.iopt.pages.size > 0 || root.iopt.accesses.size > 0)
    return errno("EBUSY", "objects exist");
  if (c.val64 !== 0n && c.val64 !== 1n) return errno("EINVAL", "IOMMU_OPTION_RLIMIT_MODE is 0 or 1");
  return [{ type: "iopt.rlimit_mode_set", data: { mode: c.val64 === 1n ? ACCOUNT_MM : ACCOUNT_USER } }];
}

/** What IOMMU_IOAS_IOVA_RANGES reports. */
export interface IovaRanges {
  /** Every usable range: the holes of the reserved set over [0, 2^64 − 1]. */
  readonly ranges: readonly IovaRange[];
  /** out_iova_alignment, bytes. */
  readonly outIovaAlignment: number;
}

/**
 * IOMMU_IOAS_IOVA_RANGES: the IOVA ranges not reserved, and the alignment.
 * The ioctl layer answers EMSGSIZE (with num_iovas = `ranges.length`) when
 * the caller's array is shorter, copying only what fits.
 * Errors: ENOENT no IOAS.
 */
export function iovaRanges(root: IoptRoot, ioasId: number): IovaRanges | Errno {
  const ioas = root.iopt.ioas.get(ioasId);
  if (ioas === undefined) return errno("ENOENT", `no IOAS ${ioasId}`);
  return { ranges: holes(mergeRanges(ioas.reserved), 0n, U64_MAX), outIovaAlignment: ioas.iovaAlignment };
}
