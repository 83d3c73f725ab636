/**
 * The object graph of the `iommufd` slice: each context (an open file of
 * /dev/iommu or /dev/vfio/vfio) with the objects of its table, and an edge
 * from each object to every object it holds a users reference on (a HWPT →
 * its IOAS, a device → the HWPT it is attached to…), as Linux's
 * `struct iommufd_object` users count them (drivers/iommu/iommufd/main.c).
 *
 * The slice is read structurally and checked at run time, so the view
 * works with any version of the iommufd package that keeps these fields.
 */
import { isRecord } from "./slices";

/** An object of a context's table, as the view needs it. */
export interface GraphObject {
  readonly id: number;
  readonly type: string;
  /** Ids of objects of the same context this one uses. */
  readonly refs: readonly number[];
  /** Global id of the kernel object behind it in another slice (an IOAS → iopt's IOAS id), if any. */
  readonly kobj: number | undefined;
  /** Column of the drawing (see `TYPE_COLUMNS`). */
  readonly column: number;
  /** Row within its column. */
  readonly row: number;
}

/** A context with its objects. */
export interface GraphContext {
  readonly id: number;
  readonly pid: number;
  /** Opened as /dev/vfio/vfio (the VFIO container compat path). */
  readonly vfio: boolean;
  readonly accountMode: string;
  readonly objects: readonly GraphObject[];
}

/** The whole graph. */
export interface ObjectGraph {
  readonly contexts: readonly GraphContext[];
  /** Objects over all contexts. */
  readonly objectCount: number;
}

/**
 * Object types (Linux enum iommufd_object_type) in drawing order, left to
 * right: address spaces, the paging HWPTs built on them, vIOMMUs (over a
 * parent HWPT), nested HWPTs (over a parent HWPT or a vIOMMU), the devices
 * and accesses that use them, the vDEVICEs (which use both a
 * vIOMMU and a device), then event and HW queues and selftest objects. Every
 * object is right of every object it holds (its `refs`), so each arrow
 * runs leftwards between columns. Unknown types go in a last column.
 */
export const TYPE_COLUMNS: readonly (readonly string[])[] = [
  ["ioas"],
  ["hwpt_paging"],
  ["viommu"],
  ["hwpt_nested"],
  ["device", "access"],
  ["vdevice"],
  ["fault", "veventq", "hw_queue", "selftest"],
];

function columnOf(type: string): number {
  const i = TYPE_COLUMNS.findIndex((types) => types.includes(type));
  return i < 0 ? TYPE_COLUMNS.length : i;
}

function readObject(
  v: unknown,
): { id: number; type: string; refs: number[]; kobj: number | undefined } | undefined {
  if (!isRecord(v) || typeof v.id !== "number" || typeof v.type !== "string") return undefined;
  const refs = Array.isArray(v.refs) ? v.refs.filter((r): r is number => typeof r === "number") : [];
  return { id: v.id, type: v.type, refs, kobj: typeof v.kobj === "number" ? v.kobj : undefined };
}

function readContext(v: unknown): GraphContext | undefined {
  if (!isRecord(v) || typeof v.id !== "number") return undefined;
  const raw = isRecord(v.objects) ? Object.values(v.objects).map(readObject) : [];
  const found = raw.filter((o) => o !== undefined).sort((a, b) => a.id - b.id);
  const rows = new Map<number, number>();
  const objects = found.map((o) => {
    const column = columnOf(o.type);
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    return { ...o, column, row };
  });
  return {
    id: v.id,
    pid: typeof v.pid === "number" ? v.pid : 0,
    vfio: v.vfio === true,
    accountMode: typeof v.accountMode === "string" ? v.accountMode : "?",
    objects,
  };
}

/**
 * The graph of `root.iommufd`, contexts and objects in ascending id order;
 * undefined when the root has no iommufd slice with a `contexts` table.
 */
export function objectGraph(root: Readonly<Record<string, unknown>>): ObjectGraph | undefined {
  const slice = root.iommufd;
  if (!isRecord(slice) || !isRecord(slice.contexts)) return undefined;
  const contexts = Object.values(slice.contexts)
    .map(readContext)
    .filter((c) => c !== undefined)
    .sort((a, b) => a.id - b.id);
  return { contexts, objectCount: contexts.reduce((n, c) => n + c.objects.length, 0) };
}
