/**
 * PasidBitmap: a persistent hierarchical bitmap over the id space
 * [0, 2^bits) that finds the lowest clear id in [min, max] in O(log n) —
 * the PASID allocator's core (Linux's ioasid core used an xarray with
 * xa_alloc(XA_LIMIT(min, max)), which is also lowest-free-first).
 *
 * Shape: level 0 holds one bit per id (1 = taken). Level k + 1 holds one
 * bit per 32-bit word of level k, set when that word is full, so a search
 * that meets a full word climbs one level and skips 32^k ids at once. The
 * top level is a single word. With 20 bits: 2^15 + 2^10 + 2^5 + 1 words.
 *
 * Storage: each level is an array of 32-word chunks (1024 bits); a missing
 * chunk reads as zeros (all free), so a sparse set (a process's own ids)
 * costs only the chunks it touches. Writes follow the epoch rule of
 * eventlog (epoch.ts): chunks of the current epoch are written in place,
 * older ones are copied first; every write returns the bitmap to use
 * afterwards. Reads never allocate.
 */
import {
  BULK_TAG,
  type Bulk,
  type ByteReader,
  type ByteWriter,
  currentEpoch,
  registerBulk,
} from "@iommu-sim/eventlog";

/** Words per chunk; a chunk covers 32 × 32 = 1024 bits of its level. */
const CHUNK_WORDS = 32;
const FULL = 0xffffffff;
const TAG = "ioasid.PasidBitmap";

interface Chunk {
  epoch: number;
  readonly words: Uint32Array;
}

function newChunk(epoch: number, from?: Chunk): Chunk {
  return { epoch, words: from === undefined ? new Uint32Array(CHUNK_WORDS) : from.words.slice() };
}

/** Index of the lowest set bit of a non-zero 32-bit value. */
function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Number of words of each level for a space of 2^bits ids, bottom first. */
function levelWords(bits: number): number[] {
  const out: number[] = [];
  let words = 2 ** bits / 32;
  for (;;) {
    out.push(words);
    if (words === 1) return out;
    words = Math.ceil(words / 32);
  }
}

/** See the module comment. Construct with `PasidBitmap.empty(bits)`. */
export class PasidBitmap implements Bulk {
  readonly [BULK_TAG] = TAG;

  /** Number of ids in the space (2^bits). */
  readonly capacity: number;

  private constructor(
    private epoch: number,
    /** log2 of the space size: ids are [0, 2^bits). */
    readonly bits: number,
    private readonly words: readonly number[],
    private levels: (Chunk | undefined)[][],
    private count: number,
  ) {
    this.capacity = 2 ** bits;
  }

  /**
   * An empty bitmap over [0, 2^bits).
   * @param bits 5…31 (PCIe PASIDs: 20).
   * @throws RangeError outside that range (a configuration error, not user input).
   */
  static empty(bits: number): PasidBitmap {
    if (!Number.isInteger(bits) || bits < 5 || bits > 31) throw new RangeError(`bits ${bits} not in [5, 31]`);
    const words = levelWords(bits);
    const levels = words.map((w) => new Array<Chunk | undefined>(Math.ceil(w / CHUNK_WORDS)).fill(undefined));
    return new PasidBitmap(currentEpoch(), bits, words, levels, 0);
  }

  /** Number of ids taken. */
  get size(): number {
    return this.count;
  }

  private word(level: number, index: number): number {
    const c = this.levels[level]![index >>> 5];
    return c === undefined ? 0 : c.words[index & 31]!;
  }

  /** Whether `id` is taken (false outside the space). */
  has(id: number): boolean {
    if (!(id >= 0 && id < this.capacity)) return false;
    return ((this.word(0, id >>> 5) >>> (id & 31)) & 1) === 1;
  }

  /**
   * The lowest clear id in [min, max] (inclusive, clamped to the space), or
   * -1 when every id there is taken. O(levels): at most one word per level
   * going up and one going down.
   */
  lowestClear(min: number, max: number): number {
    const hi = Math.min(max, this.capacity - 1);
    if (min > hi) return -1;
    const id = this.findClear(0, Math.max(0, min));
    return id >= 0 && id <= hi ? id : -1;
  }

  /** Lowest index ≥ `from` whose bit at `level` is clear, or -1. */
  private findClear(level: number, from: number): number {
    const words = this.words[level]!;
    let index = from;
    for (;;) {
      const wi = index >>> 5;
      if (wi >= words) return -1;
      const free = ~this.word(level, wi) & (FULL << (index & 31));
      if (free !== 0) return wi * 32 + ctz(free);
      if (level === this.words.length - 1) return -1;
      // Word wi has no clear bit at or above index: ask the level above for
      // the next word that is not full; it must hold a clear bit.
      const next = this.findClear(level + 1, wi + 1);
      if (next < 0) return -1;
      index = next * 32;
    }
  }

  /** Ids taken, ascending. Skips empty chunks, so cost follows the taken ids. */
  *ids(): IterableIterator<number> {
    const chunks = this.levels[0]!;
    for (let ci = 0; ci < chunks.length; ci++) {
      const c = chunks[ci];
      if (c === undefined) continue;
      for (let w = 0; w < CHUNK_WORDS; w++) {
        let x = c.words[w]!;
        while (x !== 0) {
          const b = ctz(x);
          yield (ci * CHUNK_WORDS + w) * 32 + b;
          x &= x - 1;
        }
      }
    }
  }

  /**
   * This content in a handle that is never written in place, whatever the
   * epoch: epoch 0 is never current, so every later write copies. For values
   * that must stay pristine without a seal, such as a subsystem's
   * `initialState` (eventlog's `specify().given()` evolves from it directly).
   */
  frozen(): PasidBitmap {
    // Re-tagging the chunks only makes other handles copy them before writing.
    for (const level of this.levels) for (const c of level) if (c !== undefined) c.epoch = 0;
    return new PasidBitmap(
      0,
      this.bits,
      this.words,
      this.levels.map((l) => l.slice()),
      this.count,
    );
  }

  /** A handle that may be written in place (this one if its epoch is current). */
  private writable(): PasidBitmap {
    const e = currentEpoch();
    if (this.epoch === e) return this;
    // Copy the chunk pointer arrays only; chunks are copied lazily on write.
    return new PasidBitmap(
      e,
      this.bits,
      this.words,
      this.levels.map((l) => l.slice()),
      this.count,
    );
  }

  /** The writable words of chunk holding `index` of `level`, creating or copying it. */
  private chunkForWrite(level: number, index: number): Uint32Array {
    const chunks = this.levels[level]!;
    const ci = index >>> 5;
    let c = chunks[ci];
    if (c === undefined) c = chunks[ci] = newChunk(this.epoch);
    else if (c.epoch !== this.epoch) c = chunks[ci] = newChunk(this.epoch, c);
    return c.words;
  }

  /**
   * Mark `id` taken. @returns the bitmap to use from now on.
   * @throws RangeError if `id` is outside the space or already taken — a
   *   caller bug: decide checks with `has`/`lowestClear` first.
   */
  set(id: number): PasidBitmap {
    if (this.has(id) || !(Number.isInteger(id) && id >= 0 && id < this.capacity))
      throw new RangeError(`PasidBitmap.set(${id}): taken or outside [0, 2^${this.bits})`);
    const s = this.writable();
    let index = id;
    for (let level = 0; level < s.words.length; level++) {
      const words = s.chunkForWrite(level, index >>> 5);
      const w = (words[(index >>> 5) & 31]! | (1 << (index & 31))) >>> 0;
      words[(index >>> 5) & 31] = w;
      if (w !== FULL) break; // the word above still sees this word as not full
      index >>>= 5;
    }
    s.count++;
    return s;
  }

  /**
   * Mark `id` free. @returns the bitmap to use from now on.
   * @throws RangeError if `id` is not taken (a caller bug).
   */
  clear(id: number): PasidBitmap {
    if (!this.has(id)) throw new RangeError(`PasidBitmap.clear(${id}): not taken`);
    const s = this.writable();
    let index = id;
    for (let level = 0; level < s.words.length; level++) {
      const words = s.chunkForWrite(level, index >>> 5);
      const before = words[(index >>> 5) & 31]!;
      words[(index >>> 5) & 31] = (before & ~(1 << (index & 31))) >>> 0;
      if (before !== FULL) break; // the word was not full: the level above is unchanged
      index >>>= 5;
    }
    s.count--;
    return s;
  }

  /**
   * Canonical encoding: bits, count, then each non-zero level-0 word as
   * (index, value) — about 5–9 bytes per 32 ids; summaries are rebuilt.
   */
  encode(w: ByteWriter): void {
    w.varint(this.bits);
    w.varint(this.count);
    const chunks = this.levels[0]!;
    let nonZero = 0;
    for (const c of chunks) if (c !== undefined) for (const x of c.words) if (x !== 0) nonZero++;
    w.varint(nonZero);
    for (let ci = 0; ci < chunks.length; ci++) {
      const c = chunks[ci];
      if (c === undefined) continue;
      for (let i = 0; i < CHUNK_WORDS; i++) {
        const x = c.words[i]!;
        if (x === 0) continue;
        w.varint(ci * CHUNK_WORDS + i);
        w.varint(x);
      }
    }
  }

  /** Decode what `encode` wrote: level-0 words are stored as they come, then the summaries are rebuilt bottom-up. */
  static decode(r: ByteReader): PasidBitmap {
    const s = PasidBitmap.empty(r.varint());
    const count = r.varint();
    const n = r.varint();
    let decoded = 0;
    for (let k = 0; k < n; k++) {
      const wi = r.varint();
      const x = r.varint() >>> 0;
      s.chunkForWrite(0, wi)[wi & 31] = x;
      decoded += popcount(x);
    }
    if (decoded !== count) throw new RangeError(`PasidBitmap: count ${count} ≠ ${decoded} decoded ids`);
    s.count = count;
    s.rebuildSummaries();
    return s;
  }

  /** Recompute every summary level from the one below (a word is full when all 32 bits are set). */
  private rebuildSummaries(): void {
    for (let level = 1; level < this.words.length; level++) {
      const below = this.levels[level - 1]!;
      for (let ci = 0; ci < below.length; ci++) {
        const c = below[ci];
        if (c === undefined) continue;
        for (let i = 0; i < CHUNK_WORDS; i++) {
          if (c.words[i] !== FULL) continue;
          const wi = ci * CHUNK_WORDS + i;
          const words = this.chunkForWrite(level, wi >>> 5);
          words[(wi >>> 5) & 31] = (words[(wi >>> 5) & 31]! | (1 << (wi & 31))) >>> 0;
        }
      }
    }
  }
}

/** Number of set bits of a 32-bit value. */
function popcount(x: number): number {
  let v = x >>> 0;
  let n = 0;
  while (v !== 0) {
    v &= v - 1;
    n++;
  }
  return n;
}

registerBulk(TAG, PasidBitmap.decode);
