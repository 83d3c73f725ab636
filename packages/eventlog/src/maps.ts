/**
 * Persistent updates of the small `ReadonlyMap`s in state (hardware units,
 * processes, IO address spaces): a copy with one key set or removed, the
 * original left as it is so snapshots that hold it stay valid. Costs one
 * Map copy (O(size)); big keyed state belongs in `EpochMap` instead.
 */

/** A copy of `m` with `k` set to `v`. */
export function mapSet<K, V>(m: ReadonlyMap<K, V>, k: K, v: V): ReadonlyMap<K, V> {
  const out = new Map(m);
  out.set(k, v);
  return out;
}

/** A copy of `m` without `k`. */
export function mapDelete<K, V>(m: ReadonlyMap<K, V>, k: K): ReadonlyMap<K, V> {
  const out = new Map(m);
  out.delete(k);
  return out;
}
