/**
 * Reading slices whose shape the view does not own: run-time checks that
 * keep a panel working (or saying why not) whatever version of a package
 * produced the state.
 */

/** A non-null object. */
export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

/** A `ReadonlyMap` by its shape: `Map` itself, or a bulk map class implementing the interface (iopt's EpochMap). */
export interface MapLike {
  readonly size: number;
  get(key: unknown): unknown;
  entries(): Iterable<[unknown, unknown]>;
  values(): Iterable<unknown>;
}

/** Whether `v` reads like a `ReadonlyMap`. */
export function isMapLike(v: unknown): v is MapLike {
  if (v instanceof Map) return true;
  if (!isRecord(v)) return false;
  const m = v as Partial<Record<keyof MapLike, unknown>>;
  return (
    typeof m.size === "number" &&
    typeof m.get === "function" &&
    typeof m.entries === "function" &&
    typeof m.values === "function"
  );
}

/** The values of a keyed table — a map (see `isMapLike`) or a plain object; [] for anything else. */
export function tableValues(v: unknown): unknown[] {
  if (isMapLike(v)) return [...v.values()];
  if (isRecord(v) && !Array.isArray(v)) return Object.values(v);
  return [];
}

/** `v` when it is a bigint, else `fallback`. */
export const big = (v: unknown, fallback = 0n): bigint => (typeof v === "bigint" ? v : fallback);

/** `v` when it is a number, else `fallback`. */
export const num = (v: unknown, fallback = 0): number => (typeof v === "number" ? v : fallback);

/** The elements of `v` when it is an array, else []. */
export const list = (v: unknown): readonly unknown[] => (Array.isArray(v) ? v : []);
