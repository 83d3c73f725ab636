/**
 * Bit-field helpers for the 64-bit words of SMMU structures (STEs, CDs,
 * commands, event records), in the style of Linux's GENMASK_ULL /
 * FIELD_GET / FIELD_PREP. Off the hot path, so bigint is fine there; and
 * `u64ToNumber` for the map/unmap path.
 */

/** Scratch for `u64ToNumber`: a bigint stored here is read back as two 32-bit halves. */
const SCRATCH = new BigUint64Array(1);
const HALVES = new Uint32Array(SCRATCH.buffer);
/** Which half is the low one on this platform (both views use its byte order). */
const LO = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;

const TWO64 = 2n ** 64n;

/**
 * `Number(x)`, the same value for every bigint. For 0 ≤ x < 2^64 through a
 * BigUint64Array store, which V8 inlines (exact below 2^53, rounded to
 * nearest above as Number() does): `Number()` on a bigint is a runtime
 * call on Node 20 (~300 instructions against ~40, callgrind), made twice
 * per map and unmap. Other values go through `Number()`.
 */
export function u64ToNumber(x: bigint): number {
  if (x < 0n || x >= TWO64) return Number(x);
  SCRATCH[0] = x;
  return HALVES[1 - LO]! * 4294967296 + HALVES[LO]!;
}

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
