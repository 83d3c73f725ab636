/**
 * How the daemon reaches the bytes of a program's slot: through a mapping
 * of the memfd (slot-map.ts; loads and stores) or, without one, with
 * pread/pwrite at offsets (tmpfs pages are the page cache, so the daemon's
 * reads see the shim's stores and vice versa). ShmChannel (slot-channel.ts)
 * speaks the protocol over either.
 */
import { closeSync, readSync, writeSync } from "node:fs";
import { SLOT } from "./slot";
import { slotMapper } from "./slot-map";

/** Access to one slot (offsets in bytes from the start of the memfd). */
export interface SlotIo {
  /** "mapped" or "pread" (diagnostics, tests). */
  readonly kind: "mapped" | "pread";
  /**
   * Copy `length` bytes at slot offset `at` into `dst` at `dstAt`.
   * @returns the bytes copied (fewer: the file was truncated).
   * @throws on an I/O error (the channel then ends its connection).
   */
  read(dst: Uint8Array, dstAt: number, length: number, at: number): number;
  /**
   * The u32 at `at` (a multiple of 4), loaded on its own in order after
   * the loads before it; undefined when the slot is not mapped (then only
   * a read() sees the shim's stores).
   */
  peek(at: number): number | undefined;
  /** Store the u32 `value` at `at` (a multiple of 4), ordered after every store before it. */
  storeWord(at: number, value: number): void;
  /**
   * Store the reply record for request `seq`: the frame at SLOT.REP, `sum`
   * at SLOT.REP_SUM, `time` (monotonicMicros()) at SLOT.REP_TIME and `seq`
   * at SLOT.REP_SEQ — when mapped, `seq` last, so the shim never sees a new
   * `rep_seq` before the bytes it covers.
   */
  storeReply(seq: number, sum: number, time: number, frame: Uint8Array): void;
  /** Let go of the slot (its fd, or the mapping's views). */
  close(): void;
}

/** The slot through a MAP_SHARED mapping (`buffer`: SLOT.SIZE bytes from the addon). */
class MappedSlotIo implements SlotIo {
  readonly kind = "mapped";
  private bytes: Uint8Array;
  private words: Uint32Array;

  constructor(buffer: ArrayBuffer) {
    this.bytes = new Uint8Array(buffer);
    this.words = new Uint32Array(buffer);
  }

  read(dst: Uint8Array, dstAt: number, length: number, at: number): number {
    const n = Math.max(0, Math.min(length, this.bytes.length - at));
    dst.set(this.bytes.subarray(at, at + n), dstAt);
    return n;
  }

  peek(at: number): number {
    return Atomics.load(this.words, at >>> 2);
  }

  storeWord(at: number, value: number): void {
    Atomics.store(this.words, at >>> 2, value);
  }

  storeReply(seq: number, sum: number, time: number, frame: Uint8Array): void {
    this.bytes.set(frame, SLOT.REP);
    this.words[SLOT.REP_TIME >>> 2] = time;
    Atomics.store(this.words, SLOT.REP_SUM >>> 2, sum);
    Atomics.store(this.words, SLOT.REP_SEQ >>> 2, seq);
  }

  close(): void {
    // The mapping goes when the ArrayBuffer is collected (the addon's finalizer munmaps it).
    this.bytes = new Uint8Array(0);
    this.words = new Uint32Array(0);
  }
}

/** The slot through pread/pwrite on the daemon's fd `fd`. */
class PreadSlotIo implements SlotIo {
  readonly kind = "pread";
  /** The reply record: rep_seq, rep_sum, rep_time, frame (one pwrite). */
  private out = new Uint8Array(12 + 64);
  private readonly word = new Uint8Array(4);
  private readonly wordView = new DataView(this.word.buffer);

  constructor(private readonly fd: number) {}

  read(dst: Uint8Array, dstAt: number, length: number, at: number): number {
    return readSync(this.fd, dst, dstAt, length, at);
  }

  peek(): undefined {
    return undefined;
  }

  storeWord(at: number, value: number): void {
    this.wordView.setUint32(0, value, true);
    writeSync(this.fd, this.word, 0, 4, at);
  }

  storeReply(seq: number, sum: number, time: number, frame: Uint8Array): void {
    if (this.out.length < 12 + frame.length) this.out = new Uint8Array(12 + frame.length);
    const dv = new DataView(this.out.buffer);
    dv.setUint32(0, seq, true);
    dv.setUint32(4, sum, true);
    dv.setUint32(8, time, true);
    this.out.set(frame, 12);
    writeSync(this.fd, this.out, 0, 12 + frame.length, SLOT.REP_SEQ);
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      // nothing to release
    }
  }
}

/**
 * Access to the slot open as the daemon's `fd` (from openSlot): mapped when
 * the addon is available and the memfd is sealed against shrinking (the
 * fd is then closed: the mapping keeps the file), else pread/pwrite on
 * `fd`. `map` false forces pread/pwrite.
 */
export function slotIo(fd: number, map = true): SlotIo {
  const mapSlot = map ? slotMapper() : undefined;
  if (mapSlot !== undefined) {
    const buffer = mapSlot(fd, SLOT.SIZE);
    if (buffer instanceof ArrayBuffer) {
      closeSync(fd);
      return new MappedSlotIo(buffer);
    }
  }
  return new PreadSlotIo(fd);
}
