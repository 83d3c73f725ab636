/**
 * IOMMU_IOAS_UNMAP: removing whole areas. Linux ioas.c iommufd_ioas_unmap(),
 * io_pagetable.c iopt_unmap_iova(), iopt_unmap_all(), iopt_unmap_iova_range().
 */
import { type Errno, errno } from "@iommu-sim/uapi";
import { areasIn, firstAreaFrom } from "./iova";
import type { DataOf, IoptDecided, IoptRoot } from "./messages";
import { type Area, type Ioas, U64_MAX } from "./state";
import { type IoptCtx, PinTxn } from "./txn";

/**
 * Release every access pin in `ioas` that intersects one of `areas` — what
 * iommufd_access_notify_unmap() asks of each access; the model's accesses
 * behave like the selftest's mock access (selftest.c mock_access_unmap()),
 * which unpins every item intersecting the range before returning. Internal
 * accesses get no notification: an unmap they pin in was refused before
 * (`lockedByInternal`).
 */
export function notifyAccesses(txn: PinTxn, ioasId: number, areas: readonly Area[]): void {
  const ioas = txn.root.iopt.ioas.get(ioasId)!;
  for (const accessId of ioas.accesses) {
    const access = txn.root.iopt.accesses.get(accessId)!;
    for (const [pinId, pin] of access.pins) {
      const last = pin.iova + pin.length - 1n;
      if (!areas.some((a) => a.iova <= last && a.last >= pin.iova)) continue;
      txn.removePin(
        accessId,
        pinId,
        pin.areas.map((x) => x.pages),
      );
      txn.emit({ type: "iopt.access_unpinned", data: { access: accessId, pin: pinId } });
    }
  }
}

/**
 * IOMMU_IOAS_UNMAP of [iova, iova + length − 1]; iova 0 with length
 * 2^64 − 1 unmaps everything and succeeds on an empty IOAS.
 * The range must cover whole areas: an area crossing either end fails the
 * whole command with ENOENT and nothing is unmapped (Linux may have removed
 * earlier areas by then; the model is all or nothing). Accesses holding
 * pages in the range are told to unpin first (`notifyAccesses`). An
 * iopt_pages left without holders ends with its last area's event
 * (`pagesDestroyed`: unpinned, uncharged and freed in evolve).
 * Errors: ENOENT unknown IOAS, nothing mapped, or a partial area; EINVAL
 * zero length; EOVERFLOW iova/length ≥ 2^64 − 1 or wrap. The unmapped byte
 * count is the sum of the `ioas.unmapped` lengths (`unmappedLength`).
 */
export function decideIoasUnmap(
  root: IoptRoot,
  c: DataOf<"ioas.unmap">,
  ctx: IoptCtx,
): IoptDecided[] | Errno {
  const ioas = root.iopt.ioas.get(c.ioas);
  if (ioas === undefined) return errno("ENOENT", `no IOAS ${c.ioas}`);
  const all = c.iova === 0n && c.length === U64_MAX;
  let last = U64_MAX;
  if (!all) {
    if (c.iova >= U64_MAX || c.length >= U64_MAX) return errno("EOVERFLOW", "iova or length ≥ 2^64 − 1");
    if (c.length === 0n) return errno("EINVAL", "zero length");
    last = c.iova + c.length - 1n;
    if (last > U64_MAX) return errno("EOVERFLOW", "iova + length overflows");
  }
  if (!all) {
    // The request is exactly one area (the UNMAP of a MAP/UNMAP pair): found without listing the range.
    const a = ioas.areas[firstAreaFrom(ioas.areas, c.iova)];
    if (a !== undefined && a.iova === c.iova && a.last === last) {
      const only = soleHolderUnmap(root, ioas, a, c.length);
      if (only !== undefined) return only;
    }
  }
  const areas = areasIn(ioas, c.iova, last);
  if (areas.length === 0) return all ? [] : errno("ENOENT", "nothing mapped in the range");
  for (const a of areas) if (a.iova < c.iova || a.last > last) return errno("ENOENT", "range splits an area");
  if (areas.length === 1) {
    const only = soleHolderUnmap(root, ioas, areas[0]!);
    if (only !== undefined) return only;
  }
  const locked = lockedByInternal(root, ioas, areas);
  if (locked !== undefined) return locked;
  const txn = new PinTxn(root, ctx);
  notifyAccesses(txn, ioas.id, areas);
  for (const a of areas) txn.removeArea(ioas.id, a);
  const orphans = txn.takeOrphans(areas.map((a) => a.pages));
  for (let i = 0; i < areas.length; i++) {
    const a = areas[i]!;
    // An orphan ends with the event of its last area in the range.
    const ends = orphans.has(a.pages) && !areas.some((b, j) => j > i && b.pages === a.pages);
    txn.emit(unmapped(ioas.id, a, ends));
  }
  const r = txn.reconcile();
  if (r) return r;
  return txn.finish();
}

/**
 * The unmap of `area` alone when it is its pages' only holder and no
 * access is attached: it ends with its pages (one event, no pin
 * reconciliation). `length`: the request's, when it covers exactly the area.
 */
/**
 * EBUSY when an internal access (a HW queue's) pins memory in one of
 * `areas`: it gets no unmap callback, so Linux's iopt_unmap_iova_range()
 * refuses an area it holds (`area->num_locks`) rather than wait for it.
 */
function lockedByInternal(root: IoptRoot, ioas: Ioas, areas: readonly Area[]): Errno | undefined {
  for (const accessId of ioas.accesses) {
    const access = root.iopt.accesses.get(accessId)!;
    if (access.internal !== true) continue;
    for (const pin of access.pins.values()) {
      const last = pin.iova + pin.length - 1n;
      if (areas.some((a) => a.iova <= last && a.last >= pin.iova))
        return errno("EBUSY", `access ${accessId} (internal, e.g. a HW queue) pins memory in the range`);
    }
  }
  return undefined;
}

function soleHolderUnmap(root: IoptRoot, ioas: Ioas, area: Area, length?: bigint): IoptDecided[] | undefined {
  if (ioas.accesses.length !== 0) return undefined;
  const p = root.iopt.pages.get(area.pages)!;
  if (p.areas.length !== 1 || p.holds.length !== 0) return undefined;
  return [unmapped(ioas.id, area, true, length)];
}

/** The `ioas.unmapped` event of `area`; `pagesDestroyed` when it was its pages' last holder. */
function unmapped(ioas: number, area: Area, pagesDestroyed: boolean, areaLength?: bigint): IoptDecided {
  // A caller that knows the length passes it: one bigint fewer kept in the log per unmap.
  const length = areaLength ?? area.last - area.iova + 1n;
  return {
    type: "ioas.unmapped",
    data: pagesDestroyed
      ? { ioas, iova: area.iova, length, pagesDestroyed: true }
      : { ioas, iova: area.iova, length },
  };
}

/** Bytes an unmap removed: the sum of its `ioas.unmapped` lengths. */
export function unmappedLength(events: readonly { type: string; data: unknown }[]): bigint {
  let n = 0n;
  for (const e of events) if (e.type === "ioas.unmapped") n += (e.data as { length: bigint }).length;
  return n;
}
