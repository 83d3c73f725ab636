/**
 * EpochMap: an immutable-looking Map for the object tables of the state
 * (IOASes, iopt_pages, mock domains) that follows the epoch rule of
 * eventlog's bulk tables: a map created in the current epoch is updated in
 * place; one from a sealed epoch (a snapshot, an emitted state) is copied
 * first. Evolve therefore costs O(1) per update instead of a Map copy, and
 * states that escaped never change (eventlog epoch.ts).
 *
 * Canonical encoding: the entries sorted by key, like a Map's, so hashes
 * and snapshots do not depend on insertion order.
 */
import {
  BULK_TAG,
  type Bulk,
  type ByteReader,
  type ByteWriter,
  currentEpoch,
  decodeValue,
  encodeValue,
  registerBulk,
} from "@iommu-sim/eventlog";

const TAG = "iopt.EpochMap";

/** See the module comment. Create with `EpochMap.empty()`. */
export class EpochMap<K extends number, V> implements ReadonlyMap<K, V>, Bulk {
  readonly [BULK_TAG] = TAG;

  private constructor(
    private readonly epoch: number,
    private readonly map: Map<K, V>,
  ) {}

  /** An empty map. */
  static empty<K extends number, V>(): EpochMap<K, V> {
    return new EpochMap(currentEpoch(), new Map());
  }

  private writable(): EpochMap<K, V> {
    const e = currentEpoch();
    return this.epoch === e ? this : new EpochMap(e, new Map(this.map));
  }

  /** This map with `k` → `v` (in place when unsealed). */
  with(k: K, v: V): EpochMap<K, V> {
    const m = this.writable();
    m.map.set(k, v);
    return m;
  }

  /** This map without `k` (in place when unsealed). */
  without(k: K): EpochMap<K, V> {
    if (!this.map.has(k)) return this;
    const m = this.writable();
    m.map.delete(k);
    return m;
  }

  get size(): number {
    return this.map.size;
  }
  get(k: K): V | undefined {
    return this.map.get(k);
  }
  has(k: K): boolean {
    return this.map.has(k);
  }
  forEach(fn: (v: V, k: K, m: ReadonlyMap<K, V>) => void): void {
    for (const [k, v] of this.map) fn(v, k, this);
  }
  keys(): MapIterator<K> {
    return this.map.keys();
  }
  values(): MapIterator<V> {
    return this.map.values();
  }
  entries(): MapIterator<[K, V]> {
    return this.map.entries();
  }
  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.map.entries();
  }

  /** Canonical encoding: count, then (key, value) by ascending key. */
  encode(w: ByteWriter): void {
    const keys = [...this.map.keys()].sort((a, b) => a - b);
    w.varint(keys.length);
    for (const k of keys) {
      encodeValue(w, k);
      encodeValue(w, this.map.get(k));
    }
  }

  /** Decode what `encode` wrote. */
  static decode(r: ByteReader): EpochMap<number, unknown> {
    const n = r.varint();
    const m = new Map<number, unknown>();
    for (let i = 0; i < n; i++) {
      const k = decodeValue(r) as number;
      m.set(k, decodeValue(r));
    }
    return new EpochMap(currentEpoch(), m);
  }
}

registerBulk(TAG, EpochMap.decode);
