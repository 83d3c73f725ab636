/**
 * FrameStore: a sparse, persistent store of 4 KiB frames keyed by frame
 * number — the substrate for simulated physical memory and for hardware
 * tables that live in it.
 *
 * Shape: a radix tree of 512-slot nodes (9 bits of frame number per level,
 * as hardware page tables are), whose height grows with the largest frame
 * number; leaves are 4096-byte frames. Frame numbers are JS numbers below
 * 2^52, so physical addresses (frame << 12) stay exact below 2^64 only when
 * given as bigint; the number-address API covers addresses below 2^53.
 *
 * Writes follow the epoch rule (see epoch.ts): nodes and frames of the
 * current epoch are written in place; older ones are copied first, along the
 * touched path only. Every write returns the store to use afterwards (this
 * one, or a new handle if this one was sealed). Unpopulated frames read as
 * zeros; reading never allocates.
 */
import type { ByteReader, ByteWriter } from "../canonical/bytes";
import { BULK_TAG, type Bulk, registerBulk } from "../canonical/encode";
import { currentEpoch } from "../epoch";

/** log2 of the frame size. */
export const FRAME_SHIFT = 12;
/** Frame size in bytes (4 KiB). */
export const FRAME_SIZE = 4096;
const FANOUT = 512;
const MASK = FANOUT - 1;
const MAX_PFN = 2 ** 52;
/** Slots of a handle's frame cache (a power of two). */
const CACHE_SLOTS = 8;
/** FANOUT^level, so the walks divide instead of calling Math.pow. */
const SPAN = [1, FANOUT, FANOUT ** 2, FANOUT ** 3, FANOUT ** 4, FANOUT ** 5, FANOUT ** 6] as const;

/** One 4 KiB frame; writable in place only while `epoch` is current. */
interface Frame {
  epoch: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
}

interface Node {
  epoch: number;
  readonly slots: (Node | Frame | undefined)[];
}

function newFrame(epoch: number, from?: Uint8Array): Frame {
  const bytes = from === undefined ? new Uint8Array(FRAME_SIZE) : from.slice();
  return { epoch, bytes, view: new DataView(bytes.buffer) };
}

function newNode(epoch: number, from?: Node): Node {
  return { epoch, slots: from === undefined ? new Array(FANOUT).fill(undefined) : from.slots.slice() };
}

const TAG = "eventlog.FrameStore";

/** See the module comment. Construct with `FrameStore.empty()`. */
export class FrameStore implements Bulk {
  readonly [BULK_TAG] = TAG;

  private constructor(
    private epoch: number,
    private root: Node,
    private height: number,
    private count: number,
  ) {}

  /** An empty store. */
  static empty(): FrameStore {
    const e = currentEpoch();
    return new FrameStore(e, newNode(e), 1, 0);
  }

  /** Number of populated frames. */
  get frameCount(): number {
    return this.count;
  }

  /**
   * Frames this handle looked up or wrote lately, direct-mapped by the low
   * bits of the frame number (`CACHE_SLOTS` slots, made on first use). A
   * page-table walk reads a descriptor's two halves and one table per level
   * — consecutive table frames land in different slots — so most reads skip
   * the radix walk. Kept exact: every change of this handle's tree goes
   * through `frameForWrite`/`drop`, which update it, and other handles never
   * write nodes this one can reach (the epoch rule).
   */
  private cachePfn: number[] | undefined = undefined;
  private cacheFrame: (Frame | undefined)[] | undefined = undefined;

  private remember(pfn: number, f: Frame): void {
    if (this.cachePfn === undefined) {
      this.cachePfn = new Array<number>(CACHE_SLOTS).fill(-1);
      this.cacheFrame = new Array<Frame | undefined>(CACHE_SLOTS).fill(undefined);
    }
    const slot = pfn & (CACHE_SLOTS - 1);
    this.cachePfn[slot] = pfn;
    this.cacheFrame![slot] = f;
  }

  private cached(pfn: number): Frame | undefined {
    const slot = pfn & (CACHE_SLOTS - 1);
    return this.cachePfn !== undefined && this.cachePfn[slot] === pfn ? this.cacheFrame![slot] : undefined;
  }

  private leaf(pfn: number): Frame | undefined {
    const c = this.cached(pfn);
    if (c !== undefined) return c;
    if (pfn >= SPAN[this.height]!) return undefined;
    let node: Node = this.root;
    for (let level = this.height - 1; level > 0; level--) {
      const next = node.slots[Math.floor(pfn / SPAN[level]!) & MASK] as Node | undefined;
      if (next === undefined) return undefined;
      node = next;
    }
    const f = node.slots[pfn & MASK] as Frame | undefined;
    if (f !== undefined) this.remember(pfn, f);
    return f;
  }

  /** Whether frame `pfn` holds data. */
  has(pfn: number): boolean {
    return this.leaf(pfn) !== undefined;
  }

  /** The frame's bytes, read-only (do not write), or undefined when unpopulated (zeros). */
  peek(pfn: number): Uint8Array | undefined {
    return this.leaf(pfn)?.bytes;
  }

  /** Little-endian u32 at byte address `pa` (4-byte aligned). */
  readU32(pa: number): number {
    const pfn = Math.floor(pa / FRAME_SIZE);
    const f = this.leaf(pfn);
    // pa − pfn·4096 rather than pa % 4096: addresses above 2^32 would take a float modulo.
    return f === undefined ? 0 : f.view.getUint32(pa - pfn * FRAME_SIZE, true);
  }

  /** Little-endian u64 at byte address `pa` (8-byte aligned). */
  readU64(pa: number): bigint {
    const f = this.leaf(Math.floor(pa / FRAME_SIZE));
    return f === undefined ? 0n : f.view.getBigUint64(pa % FRAME_SIZE, true);
  }

  /** Copy `length` bytes from `pa` (may cross frames; zeros where unpopulated). */
  read(pa: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const addr = pa + done;
      const off = addr % FRAME_SIZE;
      const n = Math.min(FRAME_SIZE - off, length - done);
      const f = this.leaf(Math.floor(addr / FRAME_SIZE));
      if (f !== undefined) out.set(f.bytes.subarray(off, off + n), done);
      done += n;
    }
    return out;
  }

  /** A handle that may be written in place (this one if unsealed). */
  private writable(): FrameStore {
    const e = currentEpoch();
    if (this.epoch === e) return this;
    return new FrameStore(e, this.root, this.height, this.count);
  }

  /** The writable frame `pfn` of a writable handle, creating or copying as needed. */
  private frameForWrite(pfn: number): Frame {
    const e = this.epoch;
    // Writes cluster (a PTE's two halves, neighbouring PTEs): the frame last written in this epoch is writable as it is.
    const c = this.cached(pfn);
    if (c !== undefined && c.epoch === e) return c;
    if (!(pfn >= 0 && pfn < MAX_PFN && Number.isInteger(pfn)))
      throw new RangeError(`frame number ${pfn} out of range`);
    while (pfn >= SPAN[this.height]!) {
      const up = newNode(e);
      up.slots[0] = this.root;
      this.root = up;
      this.height++;
    }
    if (this.root.epoch !== e) this.root = newNode(e, this.root);
    let node = this.root;
    for (let level = this.height - 1; level > 0; level--) {
      const i = Math.floor(pfn / SPAN[level]!) & MASK;
      let next = node.slots[i] as Node | undefined;
      if (next === undefined) next = newNode(e);
      else if (next.epoch !== e) next = newNode(e, next);
      node.slots[i] = next;
      node = next;
    }
    const i = pfn & MASK;
    let f = node.slots[i] as Frame | undefined;
    if (f === undefined) {
      f = newFrame(e);
      this.count++;
    } else if (f.epoch !== e) {
      f = newFrame(e, f.bytes);
    }
    node.slots[i] = f;
    this.remember(pfn, f);
    return f;
  }

  /** Store a little-endian u32 at `pa`. @returns the store to use from now on. */
  writeU32(pa: number, value: number): FrameStore {
    const s = this.writable();
    const pfn = Math.floor(pa / FRAME_SIZE);
    s.frameForWrite(pfn).view.setUint32(pa - pfn * FRAME_SIZE, value, true);
    return s;
  }

  /** Store a little-endian u64 at `pa`. @returns the store to use from now on. */
  writeU64(pa: number, value: bigint): FrameStore {
    const s = this.writable();
    s.frameForWrite(Math.floor(pa / FRAME_SIZE)).view.setBigUint64(
      pa % FRAME_SIZE,
      BigInt.asUintN(64, value),
      true,
    );
    return s;
  }

  /**
   * Store the little-endian u64 `hi·2^32 + lo` at `pa` (8-byte aligned) from
   * its two u32 halves: a descriptor write without a bigint and with one
   * frame lookup. @returns the store to use from now on.
   */
  writeU64Halves(pa: number, lo: number, hi: number): FrameStore {
    const s = this.writable();
    const pfn = Math.floor(pa / FRAME_SIZE);
    const view = s.frameForWrite(pfn).view;
    const off = pa - pfn * FRAME_SIZE;
    view.setUint32(off, lo >>> 0, true);
    view.setUint32(off + 4, hi >>> 0, true);
    return s;
  }

  /** Copy `bytes` to `pa` (may cross frames). @returns the store to use from now on. */
  write(pa: number, bytes: Uint8Array): FrameStore {
    const s = this.writable();
    let done = 0;
    while (done < bytes.length) {
      const addr = pa + done;
      const off = addr % FRAME_SIZE;
      const n = Math.min(FRAME_SIZE - off, bytes.length - done);
      s.frameForWrite(Math.floor(addr / FRAME_SIZE)).bytes.set(bytes.subarray(done, done + n), off);
      done += n;
    }
    return s;
  }

  /**
   * Edit frame `pfn` in place through `fn` (bulk writers: fill 512 PTEs with
   * one lookup). `fn` must not keep the view. @returns the store to use from now on.
   */
  edit(pfn: number, fn: (view: DataView, bytes: Uint8Array) => void): FrameStore {
    const s = this.writable();
    const f = s.frameForWrite(pfn);
    fn(f.view, f.bytes);
    return s;
  }

  /** Forget frame `pfn` (it reads as zeros again). @returns the store to use from now on. */
  drop(pfn: number): FrameStore {
    if (!this.has(pfn)) return this;
    const s = this.writable();
    const e = s.epoch;
    if (s.root.epoch !== e) s.root = newNode(e, s.root);
    let node = s.root;
    for (let level = s.height - 1; level > 0; level--) {
      const i = Math.floor(pfn / SPAN[level]!) & MASK;
      let next = node.slots[i] as Node;
      if (next.epoch !== e) next = newNode(e, next);
      node.slots[i] = next;
      node = next;
    }
    node.slots[pfn & MASK] = undefined;
    s.count--;
    if (s.cachePfn !== undefined && s.cachePfn[pfn & (CACHE_SLOTS - 1)] === pfn)
      s.cachePfn[pfn & (CACHE_SLOTS - 1)] = -1;
    return s;
  }

  /** Populated frames in ascending frame-number order: `[pfn, bytes]` (read-only bytes). */
  *frames(): IterableIterator<[number, Uint8Array]> {
    function* walk(node: Node, level: number, base: number): IterableIterator<[number, Uint8Array]> {
      for (let i = 0; i < FANOUT; i++) {
        const slot = node.slots[i];
        if (slot === undefined) continue;
        const pfn = base + i * FANOUT ** level;
        if (level === 0) yield [pfn, (slot as Frame).bytes];
        else yield* walk(slot as Node, level - 1, pfn);
      }
    }
    yield* walk(this.root, this.height - 1, 0);
  }

  /** Canonical encoding: frame count, then (pfn, 4096 bytes) in pfn order. */
  encode(w: ByteWriter): void {
    w.varint(this.count);
    for (const [pfn, bytes] of this.frames()) {
      w.varint(pfn);
      w.bytes(bytes);
    }
  }

  /** Decode what `encode` wrote. */
  static decode(r: ByteReader): FrameStore {
    let s = FrameStore.empty();
    const n = r.varint();
    for (let i = 0; i < n; i++) {
      const pfn = r.varint();
      const bytes = r.bytes(FRAME_SIZE);
      s = s.edit(pfn, (_v, b) => b.set(bytes));
    }
    return s;
  }
}

registerBulk(TAG, FrameStore.decode);
