/**
 * EpochMap: a persistent map from a number key to a value for the object
 * tables and caches of a state (iopt's IOASes and iopt_pages, mock domains,
 * VT-d's context and PASID caches), following the epoch rule of the bulk
 * tables (epoch.ts): a map created in the current epoch is updated in place;
 * one from a sealed epoch (held by a snapshot or an emitted state) is copied
 * first, once. An update therefore costs O(1) instead of a Map copy, and a
 * state that escaped never changes.
 *
 * Two kinds, one class:
 * - unbounded (`EpochMap.empty()`): a table. Insertion order is not state:
 *   the canonical encoding lists entries by ascending key, so hashes and
 *   snapshots do not depend on the order of events that built it.
 * - bounded (`EpochMap.bounded(capacity)`): a cache. Inserting a new key
 *   when full evicts the oldest inserted entry (FIFO), and replacing a key
 *   makes it the newest — deterministic, so replays agree (hardware
 *   replacement policies are implementation specific, e.g. VT-d spec 4.1
 *   §6.2). Insertion order decides the next eviction, so it is state and the
 *   encoding keeps it.
 */
import type { ByteReader, ByteWriter } from "../canonical/bytes";
import { BULK_TAG, type Bulk, decodeValue, encodeValue, registerBulk } from "../canonical/encode";
import { currentEpoch } from "../epoch";

const TAG = "eventlog.EpochMap";

/** See the module comment. Create with `EpochMap.empty()` or `EpochMap.bounded(capacity)`. */
export class EpochMap<K extends number, V> implements ReadonlyMap<K, V>, Bulk {
  readonly [BULK_TAG] = TAG;
  /** Bumped by every in-place change, so readers can memoise lookups on (instance, generation). Not state. */
  private gen = 0;

  private constructor(
    private readonly epoch: number,
    private readonly map: Map<K, V>,
    /** Maximum number of entries (FIFO eviction beyond), or undefined for an unbounded table. */
    readonly capacity: number | undefined,
  ) {}

  /** An empty, unbounded map. */
  static empty<K extends number, V>(): EpochMap<K, V> {
    return new EpochMap<K, V>(currentEpoch(), new Map(), undefined);
  }

  /** An empty cache of at most `capacity` entries (0: it never holds any). @throws RangeError on a negative or fractional capacity. */
  static bounded<K extends number, V>(capacity: number): EpochMap<K, V> {
    if (!(Number.isInteger(capacity) && capacity >= 0))
      throw new RangeError(`EpochMap capacity must be a non-negative integer, got ${capacity}`);
    return new EpochMap<K, V>(currentEpoch(), new Map(), capacity);
  }

  /** Changes of this instance so far: a lookup memoised at the same instance and generation is still valid. */
  get generation(): number {
    return this.gen;
  }

  /** This map, or its copy when it belongs to a sealed epoch: the one to change in place. */
  private writable(): EpochMap<K, V> {
    const e = currentEpoch();
    return this.epoch === e ? this : new EpochMap<K, V>(e, new Map(this.map), this.capacity);
  }

  /**
   * This map with `k` → `v` (in place when unsealed). Bounded: `k` becomes
   * the newest entry, and the oldest is evicted when a new key finds the map
   * full. @returns the map to use from now on.
   */
  with(k: K, v: V): EpochMap<K, V> {
    if (this.capacity === undefined) {
      const m = this.writable();
      m.map.set(k, v);
      m.gen++;
      return m;
    }
    if (this.capacity === 0) return this;
    const m = this.writable();
    if (!m.map.delete(k) && m.map.size >= this.capacity) {
      const oldest = m.map.keys().next();
      if (oldest.done !== true) m.map.delete(oldest.value);
    }
    m.map.set(k, v);
    m.gen++;
    return m;
  }

  /** The same as `with` (the name hw-vtd's cache code uses). @returns the map to use from now on. */
  set(k: K, v: V): EpochMap<K, V> {
    return this.with(k, v);
  }

  /** This map without `k` (in place when unsealed). @returns the map to use from now on. */
  without(k: K): EpochMap<K, V> {
    if (!this.map.has(k)) return this;
    const m = this.writable();
    m.map.delete(k);
    m.gen++;
    return m;
  }

  /** This map without every entry for which `drop(key, value)` holds. @returns the map to use from now on. */
  deleteWhere(drop: (key: K, value: V) => boolean): EpochMap<K, V> {
    let hit = false;
    for (const [k, v] of this.map)
      if (drop(k, v)) {
        hit = true;
        break;
      }
    if (!hit) return this;
    const m = this.writable();
    for (const [k, v] of m.map) if (drop(k, v)) m.map.delete(k);
    m.gen++;
    return m;
  }

  /** This map emptied. @returns the map to use from now on. */
  clear(): EpochMap<K, V> {
    if (this.map.size === 0) return this;
    const m = this.writable();
    m.map.clear();
    m.gen++;
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
  /** Keys in insertion order (oldest first). */
  keys(): MapIterator<K> {
    return this.map.keys();
  }
  values(): MapIterator<V> {
    return this.map.values();
  }
  /** Entries in insertion order (oldest first). */
  entries(): MapIterator<[K, V]> {
    return this.map.entries();
  }
  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.map.entries();
  }

  /**
   * Canonical encoding: capacity + 1 (0 = unbounded), the count, then
   * (key, value) pairs — by ascending key when unbounded, in insertion
   * order when bounded.
   */
  encode(w: ByteWriter): void {
    w.varint(this.capacity === undefined ? 0 : this.capacity + 1);
    w.varint(this.map.size);
    const keys =
      this.capacity === undefined ? [...this.map.keys()].sort((a, b) => a - b) : [...this.map.keys()];
    for (const k of keys) {
      encodeValue(w, k);
      encodeValue(w, this.map.get(k));
    }
  }

  /** Decode what `encode` wrote. */
  static decode(r: ByteReader): EpochMap<number, unknown> {
    const cap = r.varint();
    const n = r.varint();
    const m = new Map<number, unknown>();
    for (let i = 0; i < n; i++) {
      const k = decodeValue(r) as number;
      m.set(k, decodeValue(r));
    }
    return new EpochMap(currentEpoch(), m, cap === 0 ? undefined : cap - 1);
  }
}

registerBulk(TAG, EpochMap.decode);
