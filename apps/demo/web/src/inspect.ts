/**
 * The generic state inspector's model: what one value of a root state looks
 * like as a tree node. Works on any slice, known to the view or not:
 * bigints as 0x hex, typed arrays and bulk tables (FrameStore, bitmaps…)
 * summarised instead of expanded byte by byte.
 */
import { BULK_TAG } from "@iommu-sim/eventlog";
import { bytesText, hex, ranges } from "./format";
import { isMapLike } from "./slices";

/** At most this many children are listed under one node; the rest are counted. */
export const MAX_CHILDREN = 200;

/** One node of the inspector tree. */
export interface Described {
  /** A one-line rendering of the value. */
  readonly summary: string;
  /** The children as [label, value], at most MAX_CHILDREN; absent for a leaf. Computed on demand. */
  readonly children?: () => readonly (readonly [string, unknown])[];
  /** How many children there are in all (more than listed when over MAX_CHILDREN). */
  readonly count?: number;
}

/** Integers ≥ 4096 are likely addresses or sizes: show their hex too. */
function numberText(n: number): string {
  return Number.isInteger(n) && n >= 4096 ? `${n} (${hex(n)})` : String(n);
}

function firstBytes(b: Uint8Array, n = 16): string {
  const shown = Array.from(b.subarray(0, n), (x) => x.toString(16).padStart(2, "0")).join(" ");
  return b.length > n ? `${shown} …` : shown;
}

function take<T>(it: Iterable<T>, n: number): T[] {
  const out: T[] = [];
  for (const x of it) {
    if (out.length >= n) break;
    out.push(x);
  }
  return out;
}

interface FrameLike {
  readonly frameCount: number;
  frames(): Iterable<[number, Uint8Array]>;
}
interface IdSetLike {
  readonly size: number;
  readonly capacity?: number;
  ids(): Iterable<number>;
}

function isFrameLike(v: object): v is FrameLike {
  return typeof (v as FrameLike).frameCount === "number" && typeof (v as FrameLike).frames === "function";
}
function isIdSetLike(v: object): v is IdSetLike {
  return typeof (v as IdSetLike).size === "number" && typeof (v as IdSetLike).ids === "function";
}

/** The class part of a bulk tag: "eventlog.FrameStore" → "FrameStore". */
function bulkName(v: object): string {
  const tag = String((v as Record<symbol, unknown>)[BULK_TAG]);
  return tag.split(".").pop() ?? tag;
}

/** A bulk table (eventlog's `Bulk`): summarised by what it exposes. */
function describeBulk(v: object, name: string): Described {
  if (isFrameLike(v)) {
    return {
      summary: `${name}: ${v.frameCount} frame(s) of 4 KiB (${bytesText(v.frameCount * 4096)})`,
      count: v.frameCount,
      children: () =>
        take(v.frames(), MAX_CHILDREN).map(([pfn, bytes]) => [`pfn ${hex(pfn)}`, bytes] as const),
    };
  }
  if (isIdSetLike(v)) {
    const of = v.capacity === undefined ? "" : ` of ${v.capacity}`;
    return {
      summary: `${name}: ${v.size}${of} set {${ranges(take(v.ids(), 64))}${v.size > 64 ? ", …" : ""}}`,
    };
  }
  return { summary: name };
}

function entries(list: readonly (readonly [string, unknown])[], count: number, summary: string): Described {
  return { summary, count, children: () => list.slice(0, MAX_CHILDREN) };
}

/** Describe one value for the inspector (see the module comment). */
export function describe(v: unknown): Described {
  switch (typeof v) {
    case "bigint":
      return { summary: hex(v) };
    case "number":
      return { summary: numberText(v) };
    case "string":
      return { summary: JSON.stringify(v) };
    case "boolean":
    case "undefined":
      return { summary: String(v) };
    case "function":
      return { summary: "ƒ" };
  }
  if (v === null) return { summary: "null" };
  const o = v as object;
  // Maps first, bulk or not (iopt's EpochMap is both): their entries are what people look for.
  if (isMapLike(o)) {
    const name = BULK_TAG in o ? bulkName(o) : "Map";
    const list = take(o.entries(), MAX_CHILDREN).map(([k, x]) => [describe(k).summary, x] as const);
    return entries(list, o.size, `${name}(${o.size})`);
  }
  if (BULK_TAG in o) return describeBulk(o, bulkName(o));
  if (ArrayBuffer.isView(o)) {
    const bytes = new Uint8Array(o.buffer, o.byteOffset, o.byteLength);
    return { summary: `${o.constructor.name}(${o.byteLength} bytes) ${firstBytes(bytes)}`.trimEnd() };
  }
  if (o instanceof Set) {
    const list = take(o.values(), MAX_CHILDREN).map((x, i) => [String(i), x] as const);
    return entries(list, o.size, `Set(${o.size})`);
  }
  if (Array.isArray(o)) {
    const list = o.slice(0, MAX_CHILDREN).map((x, i) => [String(i), x] as const);
    return entries(list, o.length, `Array(${o.length})`);
  }
  const keys = Object.keys(o);
  const list = keys.slice(0, MAX_CHILDREN).map((k) => [k, (o as Record<string, unknown>)[k]] as const);
  return entries(list, keys.length, keys.length === 0 ? "{}" : `{${keys.length}}`);
}
