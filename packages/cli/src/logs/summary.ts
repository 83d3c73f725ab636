/**
 * Summaries and views of a root state, per slice. Each slice that has
 * something to say registers a summariser in `SLICE_SUMMARIES` (objects,
 * mapped bytes per IOAS, attached devices, PASIDs, pending faults… as the
 * slices arrive); a slice without one is summarised by the number of
 * entries in each of its top-level collections.
 */
import { FrameStore } from "@iommu-sim/eventlog";
import type { IommufdObject, IommufdState } from "@iommu-sim/iommufd";
import { usersOf } from "@iommu-sim/iommufd";
import type { Ioas, IoptState } from "@iommu-sim/iopt";

/** One slice's summary: named figures or lists, as JSON-able values. */
export type SliceSummary = Record<string, unknown>;

/** The iommufd slice: contexts and their objects by type. */
function summariseIommufd(s: IommufdState): SliceSummary {
  const contexts = Object.values(s.contexts);
  const objects: Record<string, number> = {};
  for (const c of contexts)
    for (const o of Object.values(c.objects)) objects[o.type] = (objects[o.type] ?? 0) + 1;
  return {
    contexts: contexts.length,
    objects,
    perContext: contexts.map((c) => ({
      ctx: c.id,
      pid: c.pid,
      node: c.vfio ? "/dev/vfio/vfio" : "/dev/iommu",
      accountMode: c.accountMode,
      objects: Object.values(c.objects).map((o) => ({ id: o.id, type: o.type, refs: [...o.refs] })),
    })),
  };
}

/** Bytes an IOAS maps: the sum of its areas' lengths (areas are disjoint). */
function mappedBytes(ioas: Ioas): bigint {
  let n = 0n;
  for (const a of ioas.areas) n += a.last - a.iova + 1n;
  return n;
}

/** The iopt slice: each IOAS's areas, mapped bytes, attached domains and accesses. */
function summariseIopt(s: IoptState): SliceSummary {
  return {
    ioas: [...s.ioas.values()].map((a) => ({
      ioas: a.id,
      areas: a.areas.length,
      mappedBytes: mappedBytes(a),
      domains: a.domains.length,
      accesses: a.accesses.length,
    })),
    pages: s.pages.size,
    accesses: s.accesses.size,
  };
}

/** Summarisers by root key. */
export const SLICE_SUMMARIES: Record<string, (slice: never) => SliceSummary> = {
  iommufd: summariseIommufd,
  iopt: summariseIopt,
};

/**
 * Fallback: for each top-level member of the slice, its value when scalar,
 * else its size — entries of an array, Map, Set or plain record, or frames
 * of a FrameStore (4 KiB each).
 */
function summariseGeneric(slice: unknown): SliceSummary {
  const out: SliceSummary = {};
  if (typeof slice !== "object" || slice === null) return { value: String(slice) };
  for (const [k, v] of Object.entries(slice)) {
    if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") out[k] = v;
    else if (typeof v === "bigint") out[k] = `0x${v.toString(16)}`;
    else if (Array.isArray(v)) out[k] = v.length;
    else if (v instanceof Map || v instanceof Set) out[k] = v.size;
    else if (v instanceof FrameStore) out[k] = `${v.frameCount} frames`;
    else if (typeof v === "object" && v !== null) {
      const size = (v as { size?: unknown }).size; // EpochMap and other map-like bulk structures
      out[k] = typeof size === "number" ? size : Object.keys(v).length;
    }
  }
  return out;
}

/** A summary of every slice of `root`, by root key. */
export function summarise(root: Readonly<Record<string, unknown>>): Record<string, SliceSummary> {
  const out: Record<string, SliceSummary> = {};
  for (const [key, slice] of Object.entries(root)) {
    const f = SLICE_SUMMARIES[key];
    out[key] = f === undefined ? summariseGeneric(slice) : f(slice as never);
  }
  return out;
}

/** Text lines for a summary (the non-JSON output of replay and inspect). */
export function summaryLines(summary: Record<string, SliceSummary>): string[] {
  const lines: string[] = [];
  for (const [key, s] of Object.entries(summary)) {
    if (key === "iommufd") {
      const objects = Object.entries(s.objects as Record<string, number>)
        .map(([t, n]) => `${n} ${t}`)
        .join(", ");
      lines.push(`iommufd: ${s.contexts} context(s); objects: ${objects || "none"}`);
      for (const c of s.perContext as {
        ctx: number;
        pid: number;
        node: string;
        accountMode: string;
        objects: { id: number; type: string; refs: number[] }[];
      }[]) {
        lines.push(`  context ${c.ctx}: pid ${c.pid}, ${c.node}, accounting per ${c.accountMode}`);
        for (const o of c.objects) {
          lines.push(
            `    #${o.id} ${o.type}${o.refs.length ? ` → ${o.refs.map((r) => `#${r}`).join(", ")}` : ""}`,
          );
        }
      }
      continue;
    }
    if (key === "iopt") {
      const list = s.ioas as {
        ioas: number;
        areas: number;
        mappedBytes: bigint;
        domains: number;
        accesses: number;
      }[];
      lines.push(`iopt: ${list.length} IOAS, ${s.pages} pinned-pages object(s), ${s.accesses} access(es)`);
      for (const a of list) {
        lines.push(
          `  IOAS ${a.ioas}: ${a.areas} area(s), ${a.mappedBytes} bytes mapped, ${a.domains} domain(s), ${a.accesses} access(es)`,
        );
      }
      continue;
    }
    const parts = Object.entries(s).map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : v}`);
    lines.push(`${key}: ${parts.join(", ") || "(empty)"}`);
  }
  return lines;
}

/** One object found by `findObjects`. */
export interface FoundObject {
  readonly ctx: number;
  readonly object: IommufdObject;
  /** Ids of the objects that use it. */
  readonly users: number[];
  /** The kernel object behind it in another slice (an IOAS's areas…), when that slice exists. */
  readonly detail?: unknown;
}

/** The kernel object behind `o`: for an IOAS, iopt's entry (areas, allowed and reserved ranges, domains). */
function detailOf(root: Readonly<Record<string, unknown>>, o: IommufdObject): unknown {
  const iopt = root.iopt as IoptState | undefined;
  if (o.type === "ioas" && o.kobj !== undefined && iopt?.ioas instanceof Map) return iopt.ioas.get(o.kobj);
  return undefined;
}

/**
 * The object `id` of the iommufd slice (in context `ctx`, or in every
 * context that has one): its entry, the ids of its users, and the kernel
 * object behind it.
 */
export function findObjects(
  root: Readonly<Record<string, unknown>>,
  id: number,
  ctx?: number,
): FoundObject[] {
  const s = root.iommufd as IommufdState;
  const out: FoundObject[] = [];
  for (const c of Object.values(s.contexts)) {
    if (ctx !== undefined && c.id !== ctx) continue;
    const o = c.objects[id];
    if (o === undefined) continue;
    const detail = detailOf(root, o);
    out.push(
      detail === undefined
        ? { ctx: c.id, object: o, users: usersOf(c, id) }
        : { ctx: c.id, object: o, users: usersOf(c, id), detail },
    );
  }
  return out;
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** Text lines for found objects (the non-JSON output of `inspect --object`). */
export function objectLines(found: readonly FoundObject[]): string[] {
  const lines: string[] = [];
  for (const f of found) {
    const o = f.object;
    const refs = o.refs.map((r) => `#${r}`).join(", ") || "none";
    const users = f.users.map((u) => `#${u}`).join(", ") || "none";
    lines.push(`context ${f.ctx}: #${o.id} ${o.type}; uses ${refs}; used by ${users}`);
    const ioas = f.detail as Ioas | undefined;
    if (o.type === "ioas" && ioas !== undefined) {
      for (const a of ioas.areas) {
        const prot = `${a.prot & 1 ? "r" : "-"}${a.prot & 2 ? "w" : "-"}`;
        lines.push(`  area ${hex(a.iova)}..${hex(a.last)} ${prot} (pages object ${a.pages})`);
      }
      for (const r of ioas.allowed) lines.push(`  allowed ${hex(r.start)}..${hex(r.last)}`);
      for (const r of ioas.reserved)
        lines.push(`  reserved ${hex(r.start)}..${hex(r.last)} (owner ${r.owner})`);
      lines.push(`  ${ioas.domains.length} domain(s), ${ioas.accesses.length} access(es)`);
    }
  }
  return lines;
}
