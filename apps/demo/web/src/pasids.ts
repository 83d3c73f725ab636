/**
 * The PASID view of the `ioasid` slice: which PASIDs are taken on the
 * platform and by whom — IOASID sets (a process address space's PASIDs
 * from IOASID_REQUEST_ALLOC, the /dev/ioasid RFC), SVA bonds
 * (iommu_sva_bind_device()), system PASIDs and the reserved RID2PASID
 * (the RID_PASID of a VT-d scalable-mode context entry, VT-d spec §9.4). Read structurally at run time.
 */
import { isRecord } from "./slices";

/** One row of the PASID table. */
export interface PasidRow {
  readonly pasid: number;
  /** `ioasid` (an IOASID set's), `sva` (an mm's SVA PASID), `system` (a RID's), `directMap`, `reserved`. */
  readonly use: string;
  /** Owner: `mm N`, `rid bb:dd.f`, or `—`. */
  readonly owner: string;
}

/** The PASID picture of the slice. */
export interface PasidTable {
  /** Every taken PASID, ascending. */
  readonly rows: readonly PasidRow[];
  /** PASIDs taken in the whole space (the bitmap's count; rows may list fewer when over `limit`). */
  readonly taken: number;
  /** Size of the PASID space (2^bits; PCIe: 2^20). */
  readonly capacity: number | undefined;
}

interface IdSet {
  readonly size: number;
  readonly capacity?: number;
  ids(): Iterable<number>;
}
const isIdSet = (v: unknown): v is IdSet =>
  isRecord(v) && typeof v.size === "number" && typeof (v as { ids?: unknown }).ids === "function";

/** A PCI requester id as bus:dev.fn (rid = bus << 8 | dev << 3 | fn), in hex as lspci prints it. */
export function bdf(rid: number): string {
  const h = (n: number, w: number) => n.toString(16).padStart(w, "0");
  return `${h(rid >> 8, 2)}:${h((rid >> 3) & 0x1f, 2)}.${rid & 7}`;
}

/**
 * The PASID table of `root.ioasid`, at most `limit` rows; undefined when
 * the root has no ioasid slice with a `space` bitmap.
 */
export function pasidTable(root: Readonly<Record<string, unknown>>, limit = 512): PasidTable | undefined {
  const s = root.ioasid;
  if (!isRecord(s) || !isIdSet(s.space)) return undefined;
  const use = new Map<number, PasidRow>();
  const put = (pasid: unknown, u: string, owner: string) => {
    if (typeof pasid === "number") use.set(pasid, { pasid, use: u, owner });
  };
  put(s.reserved, "reserved", "— (requests without PASID)");
  for (const set of isRecord(s.sets) ? Object.values(s.sets) : []) {
    if (!isRecord(set)) continue;
    const owner = `mm ${String(set.mm)}`;
    if (isIdSet(set.ids)) for (const p of set.ids.ids()) put(p, "ioasid", owner);
    put(set.svaPasid, "sva", owner);
  }
  for (const [rid, pasid] of Object.entries(isRecord(s.systemPasids) ? s.systemPasids : {})) {
    put(pasid, "system", `rid ${bdf(Number(rid))}`);
  }
  if (isRecord(s.directMap)) put(s.directMap.pasid, "directMap", "kernel direct map");
  const rows: PasidRow[] = [];
  for (const p of s.space.ids()) {
    if (rows.length >= limit) break;
    rows.push(use.get(p) ?? { pasid: p, use: "?", owner: "—" });
  }
  return { rows, taken: s.space.size, capacity: s.space.capacity };
}
