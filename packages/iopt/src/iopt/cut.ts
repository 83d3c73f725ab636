/**
 * Splitting areas, for VFIO type1 compatibility (a type1 container may unmap
 * part of a mapping): Linux io_pagetable.c iopt_cut_iova(),
 * iopt_area_split(); used by vfio_compat.c iommufd_vfio_unmap_dma() when
 * large pages are disabled.
 */
import { type Errno, errno } from "@iommu-sim/uapi";
import { PAGE_SIZE } from "../mm/state";
import type { DataOf, IoptDecided, IoptRoot } from "./messages";
import type { Area, Ioas } from "./state";
import type { IoptCtx } from "./txn";

/** Whether an access pin holds pages through `area` (area->num_accesses). */
function hasAccesses(root: IoptRoot, ioas: Ioas, area: Area): boolean {
  for (const id of ioas.accesses)
    for (const pin of root.iopt.accesses.get(id)!.pins.values())
      if (pin.iova <= area.last && pin.iova + pin.length - 1n >= area.iova) return true;
  return false;
}

/**
 * iopt_cut_iova(): for each IOVA, split the area containing it so that the
 * IOVA ends an area (nothing to do at an area's first or last IOVA, or
 * outside every area). Both parts keep the same iopt_pages, prot and
 * domain mappings. The model applies all cuts or none.
 * Errors: ENOENT no IOAS; EINVAL a cut misaligned to the IOAS alignment,
 * through an area an access holds, or through an area a domain may have
 * mapped with large pages (domains attached and huge pages enabled);
 * ENOMEM (allocation, fault injection).
 */
export function decideIoasCut(root: IoptRoot, c: DataOf<"ioas.cut">, ctx: IoptCtx): IoptDecided[] | Errno {
  const ioas = root.iopt.ioas.get(c.ioas);
  if (ioas === undefined) return errno("ENOENT", `no IOAS ${c.ioas}`);
  const areas = [...ioas.areas];
  const events: IoptDecided[] = [];
  const align = BigInt(ioas.iovaAlignment);
  for (const iova of c.iovas) {
    const i = areas.findIndex((a) => a.iova <= iova && iova <= a.last);
    const area = areas[i];
    if (area === undefined || iova === area.iova || iova === area.last) continue;
    const newStart = iova + 1n;
    const startByte = area.startByte + (newStart - area.iova);
    if (newStart % align !== 0n || (startByte % BigInt(PAGE_SIZE)) % align !== 0n)
      return errno("EINVAL", "cut misaligned to the IOAS alignment");
    for (const site of ["iopt.area_split_lhs", "iopt.area_split_rhs"]) {
      const e = ctx.step(site);
      if (e) return e;
    }
    const original = ioas.areas.find((a) => a.iova === area.iova && a.last === area.last);
    if (original !== undefined && hasAccesses(root, ioas, original))
      return errno("EINVAL", "an access holds pages through the area");
    if (ioas.domains.length > 0 && !ioas.disableLargePages)
      return errno("EINVAL", "a domain may map the area with large pages");
    areas.splice(i, 1, { ...area, last: iova }, { ...area, iova: newStart, startByte });
    events.push({ type: "ioas.area_split", data: { ioas: ioas.id, iova: area.iova, at: iova } });
  }
  return events;
}
