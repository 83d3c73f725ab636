/**
 * The state of the `iopt` subsystem (root key `iopt`): IO address spaces
 * (struct io_pagetable + iommufd_ioas), their areas (struct iopt_area), the
 * pinnable slices of user memory behind them (struct iopt_pages), in-kernel
 * accesses (struct iommufd_access), pin counts and RLIMIT_MEMLOCK
 * accounting. Linux drivers/iommu/iommufd/io_pagetable.h, pages.c.
 *
 * Units: IOVAs and lengths are bigint bytes with inclusive `last`; page
 * indexes and PFNs count 4 KiB pages; `startByte` is a byte offset.
 */
import { FrameStore } from "@iommu-sim/eventlog";
import { EpochMap } from "../epoch-map";

/** IOMMU_READ (include/linux/iommu.h). */
export const IOMMU_READ = 1;
/** IOMMU_WRITE. */
export const IOMMU_WRITE = 2;
/** 2^64 − 1: ULONG_MAX on a 64-bit kernel. */
export const U64_MAX = (1n << 64n) - 1n;

/** An inclusive IOVA range [start, last]. */
export interface IovaRange {
  readonly start: bigint;
  readonly last: bigint;
}

/**
 * What iopt knows of an iommu_domain (a paging HWPT): its id, its smallest
 * IO page size (bytes; `1 << __ffs(pgsize_bitmap)`), and its aperture
 * (`geometry.aperture_start/end`, inclusive).
 */
export interface DomainDescriptor {
  readonly id: number;
  readonly ioPageSize: number;
  readonly apertureStart: bigint;
  readonly apertureLast: bigint;
  readonly enforceCacheCoherency?: boolean;
  /**
   * iommu_domain->pgsize_bitmap (bit n set = the domain can map 2^n-byte
   * IO pages); absent = `ioPageSize` alone. iopt itself needs only the
   * smallest; VFIO's iova_pgsizes reports the whole bitmap.
   */
  readonly pgsizeBitmap?: bigint;
}

/** struct iopt_area: IOVA [iova, last] maps bytes [startByte, …) of iopt_pages `pages`. */
export interface Area {
  readonly iova: bigint;
  readonly last: bigint;
  readonly pages: number;
  /** Byte offset of `iova` within the pages (from `uptr`); bigint as areas may sit 2^52+ bytes in. */
  readonly startByte: bigint;
  /** IOMMU_READ | IOMMU_WRITE. */
  readonly prot: number;
}

/** struct iopt_reserved: a range no area may use; `owner` 0 is the selftest's ADD_RESERVED, else a device or domain id. */
export interface Reserved extends IovaRange {
  readonly owner: number;
}

/** An IO address space. */
export interface Ioas {
  readonly id: number;
  /** Sorted by iova, disjoint. */
  readonly areas: readonly Area[];
  /** Sorted by start; may overlap (several owners). */
  readonly reserved: readonly Reserved[];
  /** IOMMU_IOAS_ALLOW_IOVAS ranges, sorted, disjoint; empty = everything. */
  readonly allowed: readonly IovaRange[];
  /** Attached domains in attach order. */
  readonly domains: readonly DomainDescriptor[];
  /** Accesses attached (ids). */
  readonly accesses: readonly number[];
  /** IOMMU_OPTION_HUGE_PAGES = 0. */
  readonly disableLargePages: boolean;
  /** iopt->iova_alignment in bytes (power of two ≤ PAGE_SIZE). */
  readonly iovaAlignment: number;
}

/** A run of pinned pages: page indexes [index, index+count) of an iopt_pages hold frames [pfn, pfn+count). */
export interface PinnedRun {
  readonly index: number;
  readonly pfn: number;
  readonly count: number;
}

/** An access's hold on a page range of one iopt_pages. */
export interface AccessHold {
  readonly pages: number;
  readonly access: number;
  readonly pin: number;
  readonly index: number;
  readonly count: number;
}

/** RLIMIT_MEMLOCK accounting of an iopt_pages: IOPT_PAGES_ACCOUNT_NONE/USER/MM. */
export const ACCOUNT_NONE = 0;
/** Charged to the user's locked_vm. */
export const ACCOUNT_USER = 1;
/** Charged to the process's locked_vm. */
export const ACCOUNT_MM = 2;

/**
 * struct iopt_pages: `npages` user pages from page-aligned `uptr` in process
 * `pid`. Pages are pinned while some holder needs them: an area in an IOAS
 * with a domain, or an access pin — each page once per iopt_pages however
 * many holders it has.
 */
export interface Pages {
  readonly id: number;
  readonly pid: number;
  /** Page-aligned user VA of index 0; the page-aligned file offset when `file` is set. */
  readonly uptr: bigint;
  /** The file object behind the pages (IOMMU_IOAS_MAP_FILE); absent for user memory. */
  readonly file?: number;
  readonly npages: number;
  readonly writable: boolean;
  readonly accountMode: number;
  /** Account owner: uid (USER) or pid (MM). */
  readonly accountId: number;
  /** Memlock limit in 4 KiB pages of the source task. */
  readonly lockLimit: number;
  /** Sorted by index, disjoint. */
  readonly pinned: readonly PinnedRun[];
  /** Areas referring to this pages: (ioas, iova). */
  readonly areas: readonly { readonly ioas: number; readonly iova: bigint }[];
  readonly holds: readonly AccessHold[];
}

/** One pin of an access: the IOVA range and the page ranges it holds. */
export interface AccessPin {
  readonly iova: bigint;
  readonly length: bigint;
  readonly areas: readonly {
    readonly pages: number;
    readonly index: number;
    readonly count: number;
    readonly iova: bigint;
  }[];
}

/** struct iommufd_access as far as iopt is concerned. */
export interface Access {
  readonly id: number;
  readonly ioas: number;
  readonly iovaAlignment: number;
  readonly pins: ReadonlyMap<number, AccessPin>;
  /**
   * An internal access (Linux iommufd_access_is_internal(): a HW queue's):
   * it gets no unmap notification, so an unmap of memory it pins is
   * refused (EBUSY) instead of unpinning it.
   */
  readonly internal?: true;
}

/** The `iopt` slice. */
export interface IoptState {
  readonly ioas: EpochMap<number, Ioas>;
  readonly pages: EpochMap<number, Pages>;
  readonly nextPages: number;
  readonly accesses: ReadonlyMap<number, Access>;
  /** Long-term pin count per frame (see pin-counts.ts). */
  readonly pinCounts: FrameStore;
  /**
   * ictx->account_mode for iopt used alone: ACCOUNT_USER (default) or
   * ACCOUNT_MM. A command's `accountMode` (iommufd passes its context's)
   * wins over it.
   */
  readonly accountMode: number;
  /** Locked pages charged per uid (user->locked_vm). */
  readonly userLocked: ReadonlyMap<number, number>;
  /** Locked pages charged per pid (mm->locked_vm). */
  readonly mmLocked: ReadonlyMap<number, number>;
}

/** The initial `iopt` state. */
export function initialIoptState(): IoptState {
  return {
    ioas: EpochMap.empty(),
    pages: EpochMap.empty(),
    nextPages: 1,
    accesses: new Map(),
    pinCounts: FrameStore.empty(),
    accountMode: ACCOUNT_USER,
    userLocked: new Map(),
    mmLocked: new Map(),
  };
}

/** Page-index range [first, first+count) of `pages` an area covers (iopt_area_index/last_index). */
export function areaIndexRange(area: Area): { index: number; count: number } {
  return byteIndexRange(area.startByte, area.last - area.iova + 1n);
}

/** Page-index range of `length` bytes (> 0) from byte `startByte` of an iopt_pages. */
export function byteIndexRange(startByte: bigint, length: bigint): { index: number; count: number } {
  const first = startByte >> 12n;
  const last = (startByte + length - 1n) >> 12n;
  return { index: Number(first), count: Number(last - first) + 1 };
}
