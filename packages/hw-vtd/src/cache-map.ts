/**
 * CacheMap: a bounded, persistent map from a packed number key to a value,
 * the storage of the context cache and the PASID cache.
 *
 * Caches change on every translation miss, so copying them per change (as
 * an immer Map would) is too slow. Like `FrameStore`, a CacheMap is written
 * in place while its epoch is current and copied once when it was sealed
 * (a snapshot or emitted state holds it); see eventlog/src/epoch.ts.
 *
 * Capacity policy: when full, inserting a new key evicts the oldest
 * inserted entry (FIFO) — hardware replacement policies are implementation
 * specific (VT-d §6.2 leaves them open); FIFO is deterministic and replayable.
 * Encoding keeps insertion order, which is part of the state (it decides
 * the next eviction).
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

const TAG = "hw-vtd.CacheMap";

/** See the module comment. Construct with `CacheMap.empty(capacity)`. */
export class CacheMap<V> implements Bulk {
  readonly [BULK_TAG] = TAG;
  /** Bumped by every in-place change, so readers can memoise lookups on (instance, generation). Not state. */
  private gen = 0;

  private constructor(
    private epoch: number,
    private readonly map: Map<number, V>,
    /** Maximum number of entries. */
    readonly capacity: number,
  ) {}

  /** An empty cache holding at most `capacity` entries. */
  static empty<V>(capacity: number): CacheMap<V> {
    return new CacheMap<V>(currentEpoch(), new Map(), capacity);
  }

  /** Number of entries. */
  get size(): number {
    return this.map.size;
  }

  /** The value cached under `key`, or undefined (a miss). */
  get(key: number): V | undefined {
    return this.map.get(key);
  }

  /** Changes of this instance so far (see `gen`): a lookup memoised at the same instance and generation is still valid. */
  get generation(): number {
    return this.gen;
  }

  /** Entries in insertion order (oldest first). */
  entries(): IterableIterator<[number, V]> {
    return this.map.entries();
  }

  private writable(): CacheMap<V> {
    const e = currentEpoch();
    if (this.epoch === e) return this;
    return new CacheMap<V>(e, new Map(this.map), this.capacity);
  }

  /** Insert or replace; evicts the oldest entry when full. @returns the cache to use from now on. */
  set(key: number, value: V): CacheMap<V> {
    if (this.capacity === 0) return this;
    const c = this.writable();
    if (!c.map.has(key) && c.map.size >= c.capacity) {
      const oldest = c.map.keys().next();
      if (oldest.done !== true) c.map.delete(oldest.value);
    }
    c.map.delete(key);
    c.map.set(key, value);
    c.gen++;
    return c;
  }

  /** Remove every entry for which `drop(key, value)` holds. @returns the cache to use from now on. */
  deleteWhere(drop: (key: number, value: V) => boolean): CacheMap<V> {
    let hit = false;
    for (const [k, v] of this.map)
      if (drop(k, v)) {
        hit = true;
        break;
      }
    if (!hit) return this;
    const c = this.writable();
    for (const [k, v] of c.map) if (drop(k, v)) c.map.delete(k);
    c.gen++;
    return c;
  }

  /** Remove everything. @returns the cache to use from now on. */
  clear(): CacheMap<V> {
    if (this.map.size === 0) return this;
    const c = this.writable();
    c.map.clear();
    c.gen++;
    return c;
  }

  /** Canonical encoding: capacity, count, then (key, value) in insertion order. */
  encode(w: ByteWriter): void {
    w.varint(this.capacity);
    w.varint(this.map.size);
    for (const [k, v] of this.map) {
      w.varint(k);
      encodeValue(w, v);
    }
  }

  /** Decode what `encode` wrote. */
  static decode(r: ByteReader): CacheMap<unknown> {
    const capacity = r.varint();
    const n = r.varint();
    const map = new Map<number, unknown>();
    for (let i = 0; i < n; i++) {
      const k = r.varint();
      map.set(k, decodeValue(r));
    }
    return new CacheMap(currentEpoch(), map, capacity);
  }
}

registerBulk(TAG, CacheMap.decode);
