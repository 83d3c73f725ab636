/**
 * The TLB: translations cached per tag (VMID/ASID), stale until a TLBI
 * command removes them (Arm IHI 0070 §3.17 "Caching", §4.4 TLBI semantics).
 *
 * Model: fully associative, `capacity` entries, FIFO replacement (the
 * oldest fill is evicted). One entry per leaf (page or block), holding the
 * leaf's input base, size, output base and permissions — for nested streams
 * the combined stage-1+stage-2 result, tagged like stage 1 (VMID, ASID).
 * Tags: stage 1 / nested `vmid·2^16 + asid`; stage-2-only `2^32 + vmid`.
 * Overlapping entries (a stale page beside a newer block) are resolved by
 * probing the smallest size first; F_TLB_CONFLICT is not raised.
 *
 * The lookup (`tlbLookup`) is the hot path: two Map lookups per probed
 * size, no allocation.
 */

/** One cached translation. Addresses are numbers (bytes, < 2^53). */
export interface TlbEntry {
  readonly tag: number;
  /** Input address of the leaf's first byte (IOVA, or IPA for stage-2-only entries). */
  readonly base: number;
  /** log2 of the leaf size in bytes. */
  readonly log2size: number;
  /** Output PA of the leaf's first byte. */
  readonly pa: number;
  /** Stage-1 permissions (PERM_* mask; PERM_ALL when stage 1 is off). */
  readonly s1perm: number;
  /** Stage-2 permissions (PERM_ALL when stage 2 is off). */
  readonly s2perm: number;
  /** Stage-2 input (IPA) of the leaf's first byte, for TLBI_S2_IPA on stage-2-only entries. */
  readonly ipa: number;
  /** Fill order, for FIFO replacement. */
  readonly seq: number;
}

/**
 * Build an entry. Every entry (in the TLB, or a walk's scratch result) comes
 * from here, so they all share one object shape and the hit path's field
 * loads stay monomorphic.
 */
export function makeEntry(
  tag: number,
  base: number,
  log2size: number,
  pa: number,
  s1perm: number,
  s2perm: number,
  ipa: number,
  seq: number,
): TlbEntry {
  return { tag, base, log2size, pa, s1perm, s2perm, ipa, seq };
}

/** Entries of one tag, keyed by `floor(base / 2^log2size) · 64 + log2size`. */
export interface TagSet {
  /** Distinct log2 sizes present, ascending. */
  readonly sizes: readonly number[];
  readonly entries: ReadonlyMap<number, TlbEntry>;
}

/** The TLB of one SMMU instance (immutable). */
export interface Tlb {
  readonly tags: ReadonlyMap<number, TagSet>;
  readonly count: number;
  /** Next fill sequence number. */
  readonly seq: number;
  readonly capacity: number;
}

const POW2: number[] = Array.from({ length: 64 }, (_, i) => 2 ** i);

/** The tag of a stage-1 or nested translation. */
export function s1Tag(vmid: number, asid: number): number {
  return vmid * 65536 + asid;
}

/** The tag of a stage-2-only translation. */
export function s2Tag(vmid: number): number {
  return POW2[32]! + vmid;
}

/** An empty TLB of `capacity` entries. */
export function emptyTlb(capacity: number): Tlb {
  return { tags: new Map(), count: 0, seq: 0, capacity };
}

function keyOf(base: number, log2size: number): number {
  return Math.floor(base / POW2[log2size]!) * 64 + log2size;
}

/** Find the entry translating input address `ia` under `tag` (hot path, allocation-free). */
export function tlbLookup(tlb: Tlb, tag: number, ia: number): TlbEntry | undefined {
  const set = tlb.tags.get(tag);
  return set === undefined ? undefined : tagSetLookup(set, ia);
}

/** The entries of one tag (to look up repeatedly without the tag lookup). */
export function tlbTagSet(tlb: Tlb, tag: number): TagSet | undefined {
  return tlb.tags.get(tag);
}

/** `tlbLookup` within one tag's entries. */
export function tagSetLookup(set: TagSet, ia: number): TlbEntry | undefined {
  const sizes = set.sizes;
  if (sizes.length === 1) {
    const s = sizes[0]!;
    return set.entries.get(Math.floor(ia / POW2[s]!) * 64 + s);
  }
  for (let i = 0; i < sizes.length; i++) {
    const s = sizes[i]!;
    const e = set.entries.get(Math.floor(ia / POW2[s]!) * 64 + s);
    if (e !== undefined) return e;
  }
  return undefined;
}

function withoutEntries(tlb: Tlb, drop: (e: TlbEntry) => boolean): Tlb {
  // Most invalidations hit nothing (an unmap of pages no device touched): look before copying.
  if (!someEntry(tlb, drop)) return tlb;
  let count = 0;
  const tags = new Map<number, TagSet>();
  let changed = false;
  for (const [tag, set] of tlb.tags) {
    const entries = new Map<number, TlbEntry>();
    for (const [k, e] of set.entries) if (!drop(e)) entries.set(k, e);
    if (entries.size !== set.entries.size) changed = true;
    count += entries.size;
    if (entries.size > 0) tags.set(tag, { sizes: sizesOf(entries), entries });
  }
  return changed ? { ...tlb, tags, count } : tlb;
}

function someEntry(tlb: Tlb, match: (e: TlbEntry) => boolean): boolean {
  for (const set of tlb.tags.values()) for (const e of set.entries.values()) if (match(e)) return true;
  return false;
}

function sizesOf(entries: ReadonlyMap<number, TlbEntry>): number[] {
  const s = new Set<number>();
  for (const e of entries.values()) s.add(e.log2size);
  return [...s].sort((a, b) => a - b);
}

/** Insert an entry (replacing one with the same tag/base/size), evicting the oldest beyond capacity. */
export function tlbFill(tlb: Tlb, entry: Omit<TlbEntry, "seq">): Tlb {
  if (tlb.capacity === 0) return tlb;
  let t = tlb;
  if (t.count >= t.capacity) {
    let oldest: TlbEntry | undefined;
    for (const set of t.tags.values())
      for (const e of set.entries.values()) if (oldest === undefined || e.seq < oldest.seq) oldest = e;
    const victim = oldest;
    if (victim !== undefined) t = withoutEntries(t, (e) => e === victim);
  }
  const e = entry;
  const full = makeEntry(e.tag, e.base, e.log2size, e.pa, e.s1perm, e.s2perm, e.ipa, t.seq);
  const set = t.tags.get(entry.tag);
  const entries = new Map(set?.entries);
  const key = keyOf(entry.base, entry.log2size);
  const replaced = entries.has(key);
  entries.set(key, full);
  const sizes = set?.sizes.includes(entry.log2size)
    ? set.sizes
    : [...(set?.sizes ?? []), entry.log2size].sort((a, b) => a - b);
  const tags = new Map(t.tags);
  tags.set(entry.tag, { sizes, entries });
  return { ...t, tags, count: t.count + (replaced ? 0 : 1), seq: t.seq + 1 };
}

function overlaps(e: TlbEntry, start: number, end: number, useIpa: boolean): boolean {
  const b = useIpa ? e.ipa : e.base;
  return b < end && start < b + POW2[e.log2size]!;
}

/** TLBI_NSNH_ALL: everything. */
export function tlbClear(tlb: Tlb): Tlb {
  return tlb.count === 0 ? tlb : { ...tlb, tags: new Map(), count: 0 };
}

/** TLBI_NH_ALL(VMID): every stage-1/nested entry of the VMID. */
export function tlbInvVmidS1(tlb: Tlb, vmid: number): Tlb {
  return withoutEntries(tlb, (e) => e.tag < POW2[32]! && Math.floor(e.tag / 65536) === vmid);
}

/** TLBI_S12_VMALL(VMID): every entry of the VMID, stage 1, stage 2 and nested. */
export function tlbInvVmidAll(tlb: Tlb, vmid: number): Tlb {
  return withoutEntries(tlb, (e) =>
    e.tag < POW2[32]! ? Math.floor(e.tag / 65536) === vmid : e.tag === s2Tag(vmid),
  );
}

/** TLBI_NH_ASID(VMID, ASID): entries of that tag. */
export function tlbInvAsid(tlb: Tlb, vmid: number, asid: number): Tlb {
  const tag = s1Tag(vmid, asid);
  return withoutEntries(tlb, (e) => e.tag === tag);
}

/** TLBI_NH_VA / NH_VAA: stage-1/nested entries of the VMID (and ASID unless `asid` is undefined) overlapping [start, end). */
export function tlbInvVa(tlb: Tlb, vmid: number, asid: number | undefined, start: number, end: number): Tlb {
  return withoutEntries(
    tlb,
    (e) =>
      e.tag < POW2[32]! &&
      Math.floor(e.tag / 65536) === vmid &&
      (asid === undefined || e.tag % 65536 === asid) &&
      overlaps(e, start, end, false),
  );
}

/**
 * TLBI_S2_IPA(VMID, IPA): stage-2-only entries of the VMID overlapping
 * [start, end). Combined stage-1+2 entries are left alone, as IHI 0070
 * §4.4.6 permits: software follows with TLBI_S12_VMALL or NH_ALL.
 */
export function tlbInvIpa(tlb: Tlb, vmid: number, start: number, end: number): Tlb {
  const tag = s2Tag(vmid);
  return withoutEntries(tlb, (e) => e.tag === tag && overlaps(e, start, end, true));
}
