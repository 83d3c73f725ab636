/**
 * The storage of the context cache and the PASID cache: eventlog's bounded
 * `EpochMap` (written in place while its epoch is current, copied once when
 * a snapshot or emitted state holds it). Caches change on every translation
 * miss, so a Map copy per change (as in an immer draft) would be too slow.
 *
 * Capacity policy: when full, inserting a new key evicts the oldest inserted
 * entry (FIFO) — hardware replacement policies are implementation specific
 * (VT-d spec 4.1 §6.2 leaves them open); FIFO is deterministic and
 * replayable. Insertion order is part of the state (it decides the next
 * eviction), and the encoding keeps it.
 */
import { EpochMap } from "@iommu-sim/eventlog";

/** A cache keyed by a packed number (rid, or rid·2^20 + PASID), at most `capacity` entries. */
export type CacheMap<V> = EpochMap<number, V>;

/** Construct with `CacheMap.empty(capacity)`. */
export const CacheMap = {
  /** An empty cache holding at most `capacity` entries (0: caching disabled). */
  empty<V>(capacity: number): CacheMap<V> {
    return EpochMap.bounded<number, V>(capacity);
  },
};
