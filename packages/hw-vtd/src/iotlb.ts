/**
 * The IOTLB: cached translations tagged, as VT-d tags them, by domain id
 * (DID), PASID (RID_PASID for requests-without-PASID) and translation type,
 * each mapping one page (4 KiB, 2 MiB or 1 GiB) to a frame with the
 * combined permissions of the walk.
 *
 * Layout, chosen for an allocation-free hit path: a Map from the tag
 * (did·2^22 + pasid·4 + class, 38 bits) to a Map from the page key
 * (page number at its size · 4 + size index) to a packed value
 * (frame number · 64 + permission bits). A lookup is one tag get and up to
 * three page gets (4 KiB, 2 MiB, 1 GiB), no objects created.
 *
 * Persistence: epoch copy-on-write like `FrameStore` (see cache-map.ts):
 * written in place while the epoch is current; the outer map and each
 * tag's map are copied at most once per epoch.
 *
 * Capacity policy: at most `capacity` pages; inserting into a full IOTLB
 * evicts the oldest entry of the oldest tag (FIFO by tag creation, then by
 * insertion) — VT-d leaves replacement to the implementation.
 *
 * Source: VT-d spec rev 4.1 §6.2.2 (IOTLB), §6.5.2.3–§6.5.2.4 (what each
 * invalidation descriptor removes).
 */
import {
  BULK_TAG,
  type Bulk,
  type ByteReader,
  type ByteWriter,
  currentEpoch,
  registerBulk,
} from "@iommu-sim/eventlog";

/** Translation class of an IOTLB entry: what invalidates it (VT-d §6.5.2.3 vs §6.5.2.4). */
export const TLB_CLASS = {
  /** Second-stage only or pass-through (PGTT 2/4): IOTLB invalidation (type 2). */
  SECOND_STAGE: 0,
  /** First-stage only (PGTT 1): PASID-based IOTLB invalidation (type 6). */
  FIRST_STAGE: 1,
  /** Nested (PGTT 3): PASID-based IOTLB invalidation, and any IOTLB invalidation of its DID. */
  NESTED: 2,
} as const;

/** Permission bits of a cached translation. */
export const PERM = {
  /** Reads allowed. */
  READ: 1,
  /** Writes allowed by every stage. */
  WRITE: 2,
  /** Execute allowed (first-stage XD clear). */
  EXEC: 4,
  /** User-mode requests allowed (first-stage U/S set at every level; always for second stage). */
  USER: 8,
  /** The second stage allows writes: a supervisor write with WPE = 0 needs only this. */
  SL_WRITE: 16,
  /** The first-stage leaf's D bit is set: a write needs no A/D update (always set for second-stage-only entries). */
  DIRTY: 32,
} as const;

/** All `PERM` bits. */
export const PERM_ALL = 63;

/** The tag of an entry: did·2^22 + pasid·4 + class. */
export function tlbTag(did: number, pasid: number, cls: number): number {
  return did * 0x400000 + pasid * 4 + cls;
}

/** The DID of a tag. */
export function tagDid(tag: number): number {
  return Math.floor(tag / 0x400000);
}

/** The PASID of a tag. */
export function tagPasid(tag: number): number {
  return Math.floor(tag / 4) & 0xfffff;
}

/** The class of a tag. */
export function tagClass(tag: number): number {
  return tag & 3;
}

/** Page size index: 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB. `vpn` is a 4 KiB page number. */
function pageKey(vpn: number, sizeIdx: number): number {
  const scale = sizeIdx === 0 ? 1 : sizeIdx === 1 ? 512 : 262144;
  return Math.floor(vpn / scale) * 4 + sizeIdx;
}

interface TagSet {
  epoch: number;
  readonly map: Map<number, number>;
}

const TAG = "hw-vtd.Iotlb";

/** A cached translation, decoded. */
export interface TlbEntry {
  /** First 4 KiB frame of the page. */
  readonly pfn: number;
  /** Page size index: 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB. */
  readonly sizeIdx: number;
  /** `PERM` bits. */
  readonly perm: number;
}

/** See the module comment. Construct with `Iotlb.empty(capacity)`. */
export class Iotlb implements Bulk {
  readonly [BULK_TAG] = TAG;
  /** The last tag looked up and its set (-1: none); cleared by every in-place change. Not state. */
  private memoTag = -1;
  private memoSet: TagSet | undefined;
  /**
   * A direct-mapped memo of recent hits of the memoised tag (256 slots by
   * page number), valid while `l1Stamp[slot]` equals `stamp`; `stamp` moves
   * whenever the memoised tag changes (every in-place change clears it).
   * Allocated on first use. Not state.
   */
  private stamp = 0;
  private l1Vpn: Float64Array | undefined;
  private l1Val: Float64Array | undefined;
  private l1Stamp: Float64Array | undefined;

  private constructor(
    private epoch: number,
    private readonly tags: Map<number, TagSet>,
    private count: number,
    /** Maximum number of cached pages. */
    readonly capacity: number,
  ) {}

  /** An empty IOTLB of `capacity` pages. */
  static empty(capacity: number): Iotlb {
    return new Iotlb(currentEpoch(), new Map(), 0, capacity);
  }

  /** Number of cached pages. */
  get size(): number {
    return this.count;
  }

  /**
   * The hit path: the packed translation (frame · 64 + `PERM` bits, with the
   * frame of the 4 KiB page `vpn` inside the cached page) or -1 on a miss.
   * Allocation-free.
   */
  lookup(tag: number, vpn: number): number {
    if (this.count === 0) return -1;
    let set: TagSet | undefined;
    if (tag === this.memoTag) set = this.memoSet!;
    else {
      set = this.tags.get(tag);
      if (set === undefined) return -1;
      this.memoTag = tag;
      this.memoSet = set;
      this.stamp++;
    }
    const slot = vpn & 255;
    const l1Stamp = this.l1Stamp;
    if (l1Stamp !== undefined && l1Stamp[slot] === this.stamp && this.l1Vpn![slot] === vpn)
      return this.l1Val![slot]!;
    const m = set.map;
    let v = m.get(vpn * 4);
    if (v === undefined) {
      v = m.get(Math.floor(vpn / 512) * 4 + 1);
      if (v !== undefined) v += (vpn % 512) * 64;
      else {
        v = m.get(Math.floor(vpn / 262144) * 4 + 2);
        if (v === undefined) return -1;
        v += (vpn % 262144) * 64;
      }
    }
    this.remember(slot, vpn, v);
    return v;
  }

  private remember(slot: number, vpn: number, v: number): void {
    if (this.l1Stamp === undefined) {
      this.l1Vpn = new Float64Array(256);
      this.l1Val = new Float64Array(256);
      this.l1Stamp = new Float64Array(256);
    }
    this.l1Vpn![slot] = vpn;
    this.l1Val![slot] = v;
    this.l1Stamp[slot] = this.stamp;
  }

  private writable(): Iotlb {
    const e = currentEpoch();
    if (this.epoch === e) return this;
    return new Iotlb(e, new Map(this.tags), this.count, this.capacity);
  }

  private setFor(tag: number, create: boolean): TagSet | undefined {
    this.memoTag = -1;
    let set = this.tags.get(tag);
    if (set === undefined) {
      if (!create) return undefined;
      set = { epoch: this.epoch, map: new Map() };
      this.tags.set(tag, set);
    } else if (set.epoch !== this.epoch) {
      set = { epoch: this.epoch, map: new Map(set.map) };
      this.tags.set(tag, set);
    }
    return set;
  }

  private evictOne(): void {
    this.memoTag = -1;
    for (const [tag, set] of this.tags) {
      const first = set.map.keys().next();
      if (first.done === true) {
        this.tags.delete(tag);
        continue;
      }
      const w = this.setFor(tag, false)!;
      w.map.delete(first.value);
      this.count--;
      if (w.map.size === 0) this.tags.delete(tag);
      return;
    }
  }

  /**
   * Cache a translation of the page of size `sizeIdx` containing 4 KiB page
   * `vpn` to the page starting at frame `pfn` (aligned to the size).
   * @returns the IOTLB to use from now on.
   */
  fill(tag: number, vpn: number, sizeIdx: number, pfn: number, perm: number): Iotlb {
    if (this.capacity === 0) return this;
    const t = this.writable();
    const key = pageKey(vpn, sizeIdx);
    const existing = t.tags.get(tag)?.map.has(key) === true;
    if (!existing && t.count >= t.capacity) t.evictOne();
    const set = t.setFor(tag, true)!;
    set.map.set(key, pfn * 64 + perm);
    if (!existing) t.count++;
    return t;
  }

  /**
   * Remove entries of the tags `tagMatch` accepts; with a range, only pages
   * overlapping 4 KiB pages [vpnStart, vpnStart + pages).
   * @returns the IOTLB to use from now on.
   */
  invalidate(tagMatch: (tag: number) => boolean, range?: { vpnStart: number; pages: number }): Iotlb {
    let t: Iotlb | undefined;
    if (this.tags.size === 0) return this;
    for (const tag of [...this.tags.keys()]) {
      if (!tagMatch(tag)) continue;
      t ??= this.writable();
      t.memoTag = -1;
      if (range === undefined) {
        t.count -= t.tags.get(tag)!.map.size;
        t.tags.delete(tag);
        continue;
      }
      const set = t.setFor(tag, false)!;
      const end = range.vpnStart + range.pages;
      for (const key of [...set.map.keys()]) {
        const sizeIdx = key & 3;
        const scale = sizeIdx === 0 ? 1 : sizeIdx === 1 ? 512 : 262144;
        const first = Math.floor(key / 4) * scale;
        if (first < end && first + scale > range.vpnStart) {
          set.map.delete(key);
          t.count--;
        }
      }
      if (set.map.size === 0) t.tags.delete(tag);
    }
    return t ?? this;
  }

  /** Every entry: `[tag, firstVpn, entry]`, for inspection and tests. */
  *entries(): IterableIterator<[number, number, TlbEntry]> {
    for (const [tag, set] of this.tags)
      for (const [key, v] of set.map) {
        const sizeIdx = key & 3;
        const scale = sizeIdx === 0 ? 1 : sizeIdx === 1 ? 512 : 262144;
        yield [tag, Math.floor(key / 4) * scale, { pfn: Math.floor(v / 64), sizeIdx, perm: v & 63 }];
      }
  }

  /** Canonical encoding: capacity, tag count, then per tag its entries in insertion order. */
  encode(w: ByteWriter): void {
    w.varint(this.capacity);
    w.varint(this.tags.size);
    for (const [tag, set] of this.tags) {
      w.varint(tag);
      w.varint(set.map.size);
      for (const [k, v] of set.map) {
        w.varint(k);
        w.varint(v);
      }
    }
  }

  /** Decode what `encode` wrote. */
  static decode(r: ByteReader): Iotlb {
    const capacity = r.varint();
    const e = currentEpoch();
    const tags = new Map<number, TagSet>();
    let count = 0;
    for (let i = r.varint(); i > 0; i--) {
      const tag = r.varint();
      const map = new Map<number, number>();
      for (let j = r.varint(); j > 0; j--) map.set(r.varint(), r.varint());
      count += map.size;
      tags.set(tag, { epoch: e, map });
    }
    return new Iotlb(e, tags, count, capacity);
  }
}

registerBulk(TAG, Iotlb.decode);
