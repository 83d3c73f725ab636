/**
 * VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA on an iommufd-backed
 * container (Linux drivers/iommu/iommufd/vfio_compat.c
 * iommufd_vfio_map_dma(), iommufd_vfio_unmap_dma()), carried out by the
 * iopt commands `ioas.map` / `ioas.unmap` on the compat IOAS.
 */
import type { IoctlEnv, IommufdRoot } from "@iommu-sim/iommufd";
import { U64_MAX, unmappedLength } from "@iommu-sim/iopt";
import {
  type Errno,
  errno,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  isErrno,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  type VfioIommuType1DmaMap,
  type VfioIommuType1DmaUnmap,
  vfioIommuType1DmaMap,
  vfioIommuType1DmaUnmap,
} from "@iommu-sim/uapi";
import type { VfioArg } from "./arg";
import { getCompatIoas } from "./compat-ioas";

type Env = IoctlEnv<IommufdRoot>;

/** Flags MAP_DMA accepts: READ | WRITE (VADDR — live update — is refused, as UPDATE_VADDR is not offered). */
export const COMPAT_MAP_FLAGS = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
/** Flags UNMAP_DMA accepts: ALL (GET_DIRTY_BITMAP is obsoleted by IOMMU_HWPT_GET_DIRTY_BITMAP; VADDR as above). */
export const COMPAT_UNMAP_FLAGS = VFIO_DMA_UNMAP_FLAG_ALL;

/** copy_from_user of the struct's first minsz bytes, then `argsz < minsz` or a flag outside `known` → EINVAL. */
function copyIn<V extends { argsz: number; flags: number }>(
  arg: VfioArg,
  layout: { readonly minSize: number; decode(b: Uint8Array): V },
  known: number,
): V | Errno {
  const bytes = arg.read(0, layout.minSize);
  if (isErrno(bytes)) return bytes;
  const v = layout.decode(bytes);
  if (v.argsz < layout.minSize) return errno("EINVAL", `argsz ${v.argsz} < ${layout.minSize}`);
  if ((v.flags & ~known) !== 0) return errno("EINVAL", `unsupported flags 0x${(v.flags >>> 0).toString(16)}`);
  return v;
}

/**
 * VFIO_IOMMU_MAP_DMA → 0 or −errno: map `size` bytes of the caller's memory
 * at `vaddr` to IOVA `iova` (always fixed) in the compat IOAS, readable
 * by the device with READ, writable with WRITE.
 *
 * Order (vfio_compat.c): EFAULT reading the 32-byte struct; EINVAL argsz <
 * 32 or a flag other than READ/WRITE (VADDR included); ENODEV without a
 * compat IOAS — where the legacy type1 driver answers EINVAL, since its
 * container has no IOMMU before VFIO_SET_IOMMU: a program that maps before
 * setting the IOMMU sees a different errno on the two backends. Then
 * iopt_map_user_pages()'s errors (`ioas.map`): EINVAL misaligned or
 * reserved IOVA, EEXIST overlap, EFAULT unmapped user memory, ENOMEM over
 * RLIMIT_MEMLOCK… The pages are pinned now if a domain is attached.
 * Model difference: a map with neither READ nor WRITE is EINVAL (iopt
 * refuses a mapping no device can use); Linux maps it IOMMU_CACHE only.
 */
export function mapDma(env: Env, ctx: number, arg: VfioArg): number {
  const v = copyIn<VfioIommuType1DmaMap>(arg, vfioIommuType1DmaMap, COMPAT_MAP_FLAGS);
  if (isErrno(v)) return v.ret;
  const root = env.peek();
  const compat = getCompatIoas(root, ctx);
  if (isErrno(compat)) return compat.ret;
  const flags =
    IOMMU_IOAS_MAP_FIXED_IOVA |
    (v.flags & VFIO_DMA_MAP_FLAG_READ ? IOMMU_IOAS_MAP_READABLE : 0) |
    (v.flags & VFIO_DMA_MAP_FLAG_WRITE ? IOMMU_IOAS_MAP_WRITEABLE : 0);
  // A /dev/vfio/vfio context accounts per mm, as the type1 driver did (io_pagetable.c iopt_map_common()).
  const { pid, accountMode } = root.iommufd.contexts[ctx]!;
  const r = env.dispatch({
    type: "ioas.map",
    data: { ioas: compat.kobj, pid, userVa: v.vaddr, length: v.size, iova: v.iova, flags, accountMode },
  });
  return isErrno(r) ? r.ret : 0;
}

/** The `ioas.unmap` command of an UNMAP_DMA request: everything with ALL, else [iova, iova + size). */
function unmapCommand(kobj: number, v: VfioIommuType1DmaUnmap) {
  const all = (v.flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0;
  return {
    type: "ioas.unmap",
    data: { ioas: kobj, iova: all ? 0n : v.iova, length: all ? U64_MAX : v.size },
  } as const;
}

/**
 * The `ioas.cut` before a TYPE1 (v1) unmap of [iova, iova + size): cuts
 * after the range's last IOVA and before its first (none before IOVA 0),
 * in u64 arithmetic as C computes `iova + size - 1` and `iova - 1`
 * (vfio_compat.c iommufd_vfio_unmap_dma() → io_pagetable.c iopt_cut_iova()).
 */
export function cutCommand(ioas: number, iova: bigint, size: bigint) {
  const last = BigInt.asUintN(64, iova + size - 1n);
  return {
    type: "ioas.cut",
    data: { ioas, iovas: iova === 0n ? [last] : [last, iova - 1n] },
  } as const;
}

/**
 * VFIO_IOMMU_UNMAP_DMA → 0 or −errno; `size` is answered with the bytes
 * unmapped (the 24-byte struct is copied back).
 *
 * Order (vfio_compat.c): EFAULT reading the struct; EINVAL argsz < 24 or a
 * flag other than ALL (GET_DIRTY_BITMAP, VADDR); ENODEV without a compat
 * IOAS; with ALL, EINVAL unless iova = size = 0 (nothing copied back), then
 * every area goes (an empty IOAS answers 0 bytes). Otherwise
 * when VFIO_SET_IOMMU(TYPE1) turned large pages off, the areas are first
 * cut at the range's edges (`ioas.cut`, Linux iopt_cut_iova(); its EINVAL
 * — misaligned to the IOAS alignment, an access holding the area —
 * returns with nothing copied back, as Linux's `goto err_put`), so a v1
 * unmap may land inside a mapping. Then iopt_unmap_iova() of
 * [iova, iova + size − 1]: the range must cover whole areas (ENOENT when
 * it covers none or splits one — always possible under TYPE1v2; EINVAL
 * size 0). On an unmap error `size` is still copied back, as 0; cuts made
 * before it stay, as in Linux (they change no translation).
 */
export function unmapDma(env: Env, ctx: number, arg: VfioArg): number {
  const v = copyIn<VfioIommuType1DmaUnmap>(arg, vfioIommuType1DmaUnmap, COMPAT_UNMAP_FLAGS);
  if (isErrno(v)) return v.ret;
  const compat = getCompatIoas(env.peek(), ctx);
  if (isErrno(compat)) return compat.ret;
  const all = (v.flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0;
  if (all && (v.iova !== 0n || v.size !== 0n)) return errno("EINVAL", "UNMAP_ALL needs iova = size = 0").ret;
  if (!all && compat.ioas.disableLargePages) {
    // TYPE1 (v1): cut the areas at the range's edges first; its error returns with nothing copied back.
    const cut = env.dispatch(cutCommand(compat.kobj, v.iova, v.size));
    if (isErrno(cut)) return cut.ret;
  }
  const r = env.dispatch(unmapCommand(compat.kobj, v));
  const size = isErrno(r) ? 0n : unmappedLength(r);
  const e = arg.write(0, vfioIommuType1DmaUnmap.encode({ ...v, size }));
  if (e) return e.ret;
  return isErrno(r) ? r.ret : 0;
}
