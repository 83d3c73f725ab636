/**
 * VFIO_IOMMU_GET_INFO on an iommufd-backed container (Linux
 * drivers/iommu/iommufd/vfio_compat.c iommufd_vfio_iommu_get_info(),
 * iommufd_get_pagesizes(), iommufd_fill_cap_dma_avail(),
 * iommufd_fill_cap_iova(); Linux ≥ v6.6, where each capability is padded
 * to 8 bytes).
 *
 * Byte-exact: a buffer too short for the whole chain still receives every
 * capability (and every IOVA range) that fits, as Linux writes them one by
 * one; `argsz` is raised to the size needed and `cap_offset` stays 0.
 * This differs from the legacy type1 driver (vfio_iommu_type1.c), which
 * writes no capability at all then. Padding bytes are never written.
 */
import type { IommufdRoot } from "@iommu-sim/iommufd";
import { type IovaRange, iovaRanges, U64_MAX } from "@iommu-sim/iopt";
import {
  type Errno,
  errno,
  isErrno,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  vfioIommuType1Info,
  vfioIommuType1InfoCapIovaRange,
  vfioIommuType1InfoDmaAvail,
  vfioIovaRange,
} from "@iommu-sim/uapi";
import type { VfioArg } from "./arg";
import { type CompatIoas, getCompatIoas } from "./compat-ioas";

/** The kernel's PAGE_SIZE in the model (x86-64 / 4 KiB-granule arm64), bytes. */
const PAGE_SIZE = 4096n;
/** `minsz` = offsetofend(struct vfio_iommu_type1_info, iova_pgsizes) = 16. */
const INFO_MINSZ = vfioIommuType1Info.minSize;
/** sizeof(struct vfio_iommu_type1_info) = 24. */
const INFO_SIZE = vfioIommuType1Info.size;
/** DMA_AVAIL's `avail`: U32_MAX, since iommufd's limit is the memory cgroup's ("S390 qemu … needs a value bigger than U16_MAX"). */
export const COMPAT_DMA_AVAIL = 0xffff_ffff;

/** What a domain descriptor tells about page sizes: the smallest IO page, and the full bitmap when known. */
interface PageSizesOf {
  /** Smallest IO page size in bytes. */
  readonly ioPageSize: number;
  /** iommu_domain->pgsize_bitmap (bit n = 2^n bytes); defaults to `ioPageSize` alone. */
  readonly pgsizeBitmap?: bigint;
}

/**
 * iova_pgsizes of the compat IOAS (iommufd_get_pagesizes()): the AND of
 * every attached domain's pgsize_bitmap (2^64 − 1 with none); sizes below
 * PAGE_SIZE become PAGE_SIZE (vfio_update_pgsize_bitmap()); then at least
 * the IOAS's IOVA alignment. A bitmap in bytes (bit n set = 2^n-byte pages).
 * E.g. no domain → 0xffff_ffff_ffff_f000; the selftest mock (2 KiB IO
 * pages) → 0x1000.
 */
export function compatPageSizes(compat: CompatIoas): bigint {
  let bitmap = U64_MAX;
  for (const d of compat.ioas.domains as readonly PageSizesOf[])
    bitmap &= d.pgsizeBitmap ?? BigInt(d.ioPageSize);
  if ((bitmap & (PAGE_SIZE - 1n)) !== 0n) bitmap = (bitmap & ~(PAGE_SIZE - 1n) & U64_MAX) | PAGE_SIZE;
  const alignment = BigInt(compat.ioas.iovaAlignment);
  return bitmap > alignment ? bitmap : alignment;
}

/** One capability writer: fills what fits in `avail` bytes at `at`, returns its unpadded size. */
type FillCap = (arg: VfioArg, at: number, avail: number) => number | Errno;

/** iommufd_fill_cap_dma_avail(): struct vfio_iommu_type1_info_dma_avail (12 bytes), written whole or not at all. */
const fillDmaAvail: FillCap = (arg, at, avail) => {
  const size = vfioIommuType1InfoDmaAvail.size;
  if (avail < size) return size;
  const cap = vfioIommuType1InfoDmaAvail.encode({
    header: { id: VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, version: 1, next: 0 },
    avail: COMPAT_DMA_AVAIL,
  });
  return arg.write(at, cap) ?? size;
};

/**
 * iommufd_fill_cap_iova(): the 16-byte header and one 16-byte
 * vfio_iova_range per hole between reserved ranges over [0, 2^64 − 1]
 * (inclusive `end`); each range is written if it fits, the header only if
 * all of them do.
 */
function fillIovaRanges(ranges: readonly IovaRange[]): FillCap {
  return (arg, at, avail) => {
    const head = vfioIommuType1InfoCapIovaRange.size;
    const each = vfioIovaRange.size;
    for (let n = 0; n < ranges.length; n++) {
      if (avail < head + (n + 1) * each) continue;
      const r = ranges[n] as IovaRange;
      const e = arg.write(at + head + n * each, vfioIovaRange.encode({ start: r.start, end: r.last }));
      if (e) return e;
    }
    const size = head + ranges.length * each;
    if (avail < size) return size;
    const cap = vfioIommuType1InfoCapIovaRange.encode({
      header: { id: VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, version: 1, next: 0 },
      nr_iovas: ranges.length,
    });
    return arg.write(at, cap) ?? size;
  };
}

/** Write `next` (offset from the start of the info buffer) into the capability header at `capAt`. */
function linkCap(arg: VfioArg, capAt: number, next: number): Errno | undefined {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, next, true);
  return arg.write(capAt + 4, b);
}

/**
 * VFIO_IOMMU_GET_INFO → 0 or −errno. Reads `argsz`, `flags`,
 * `iova_pgsizes` (16 bytes; EFAULT); argsz < 16 → EINVAL; no compat IOAS
 * → ENODEV. Answers flags = PGSIZES | CAPS, iova_pgsizes
 * (`compatPageSizes`), the chain DMA_AVAIL (avail = U32_MAX) then
 * IOVA_RANGE at offset 24, `argsz` = 24 + 16 + 16 + 16 × ranges, and
 * `cap_offset` = 24 when the caller's argsz held it all (else 0); the
 * struct is copied back up to min(argsz, 24) bytes.
 */
export function getInfo(root: IommufdRoot, ctx: number, arg: VfioArg): number {
  const head = arg.read(0, INFO_MINSZ);
  if (isErrno(head)) return head.ret;
  const argsz = new DataView(head.buffer, head.byteOffset).getUint32(0, true);
  if (argsz < INFO_MINSZ) return errno("EINVAL", "argsz < 16").ret;
  const compat = getCompatIoas(root, ctx);
  if (isErrno(compat)) return compat.ret;
  const ranges = iovaRanges(root, compat.kobj);
  if (isErrno(ranges)) return ranges.ret;
  const fills = [fillDmaAvail, fillIovaRanges(ranges.ranges)];
  let total = INFO_SIZE;
  let last: number | undefined;
  for (const fill of fills) {
    const size = argsz > total ? fill(arg, total, argsz - total) : fill(arg, total, 0);
    if (isErrno(size)) return size.ret;
    if (last !== undefined && argsz >= total) {
      const e = linkCap(arg, last, total);
      if (e) return e.ret;
    }
    last = total;
    total += Math.ceil(size / 8) * 8;
  }
  const info = vfioIommuType1Info.encode({
    argsz: total,
    flags: VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS,
    iova_pgsizes: compatPageSizes(compat),
    cap_offset: argsz >= total ? INFO_SIZE : 0,
  });
  const e = arg.write(0, info.subarray(0, Math.min(argsz, INFO_SIZE)));
  return e ? e.ret : 0;
}
