/**
 * The shared slot's layout and record checksum (protocol.md, "Shared
 * slot"; shim/iommu_sim_preload.c mirrors both), and the daemon's memory
 * fence. The transport around them is described in shm.ts.
 */
import { MAX_FRAME } from "./protocol";

/** The slot's layout (byte offsets) and size; shim/iommu_sim_preload.c mirrors it. */
export const SLOT = {
  /** Bytes of the memfd: header + request + reply, rounded up to 4 KiB pages. */
  SIZE: 20480,
  REQ_SEQ: 0,
  REQ_SUM: 4,
  POLLING: 8,
  SLEEPING: 12,
  /** Written by the daemon: 0 = requests through the slot, 1 = through the socket. */
  ROUTE: 16,
  /** The request frame. */
  REQ: 32,
  REP_SEQ: 64 + MAX_FRAME,
  REP_SUM: 68 + MAX_FRAME,
  /**
   * When the daemon stored the reply: CLOCK_MONOTONIC in µs, mod 2^32 (not
   * covered by the sum: a hint for the shim's spin budget).
   */
  REP_TIME: 72 + MAX_FRAME,
  /** The reply frame. */
  REP: 76 + MAX_FRAME,
} as const;

/**
 * The checksum of a slot record: 32-bit FNV-1a over the frame's bytes,
 * seeded with the offset basis XOR `seq` (the shim computes the same).
 */
export function slotSum(seq: number, frame: Uint8Array): number {
  let h = (0x811c9dc5 ^ seq) >>> 0;
  for (let i = 0; i < frame.length; i++) h = Math.imul(h ^ frame[i]!, 0x01000193);
  return h >>> 0;
}

/**
 * A full memory fence for the daemon's thread (StoreLoad: the flag this
 * side wrote is visible before it reads the other side's). An atomic
 * read-modify-write on shared memory is a locked instruction on x86 and a
 * full barrier in V8's code on arm64.
 */
const fenceCell = new Int32Array(new SharedArrayBuffer(4));
export function fence(): void {
  Atomics.add(fenceCell, 0, 0);
}

/**
 * CLOCK_MONOTONIC now in µs, mod 2^32 (SLOT.REP_TIME): process.hrtime()
 * reads libuv's uv_hrtime(), CLOCK_MONOTONIC on Linux, the clock the shim
 * reads with clock_gettime(). (performance.now() plus a fixed offset was
 * measured ≈ 600 µs off it, which made every answer look early.)
 */
export function monotonicMicros(): number {
  const [s, ns] = process.hrtime();
  return (s * 1_000_000 + Math.floor(ns / 1000)) >>> 0;
}
