/**
 * Bit-field helpers for the 64-bit words of SMMU structures (STEs, CDs,
 * commands, event records), in the style of Linux's GENMASK_ULL /
 * FIELD_GET / FIELD_PREP. Off the hot path, so bigint is fine there; and
 * `u64ToNumber` for the map/unmap path.
 */

export { u64ToNumber } from "@iommu-sim/uapi";

/** GENMASK_ULL(hi, lo): bits hi..lo set. */
export function genmask(hi: number, lo: number): bigint {
  return ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
}

/** FIELD_GET: bits hi..lo of `word`, as a number (fields here are ≤ 52 bits wide). */
export function getField(word: bigint, hi: number, lo: number): number {
  return Number((word >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n));
}

/** FIELD_PREP: `value` placed at bits hi..lo (excess high bits of value are dropped). */
export function putField(value: number | bigint, hi: number, lo: number): bigint {
  return (BigInt(value) & ((1n << BigInt(hi - lo + 1)) - 1n)) << BigInt(lo);
}

/** Bit `n` of `word`. */
export function bit(word: bigint, n: number): boolean {
  return ((word >> BigInt(n)) & 1n) === 1n;
}

/** A single-bit mask. */
export function bitMask(n: number): bigint {
  return 1n << BigInt(n);
}

/** The address in bits hi..lo of `word`, kept in place (bits below lo zero), as a number (hi ≤ 52). */
export function getAddr(word: bigint, hi: number, lo: number): number {
  return Number(word & genmask(hi, lo));
}

/** Little-endian bytes of u64 words. */
export function wordsToBytes(words: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(words.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < words.length; i++) view.setBigUint64(i * 8, BigInt.asUintN(64, words[i]!), true);
  return out;
}

/** u64 words of little-endian bytes (length a multiple of 8). */
export function bytesToWords(bytes: Uint8Array): bigint[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: bigint[] = [];
  for (let i = 0; i + 8 <= bytes.length; i += 8) out.push(view.getBigUint64(i, true));
  return out;
}
