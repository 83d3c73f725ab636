/**
 * bigint → number without V8's runtime call: `Number()` and `>>` on a
 * bigint are runtime calls on Node 20 (~300 and ~250 instructions against
 * ~40 for a BigUint64Array store, measured with callgrind), and the map and
 * unmap hot paths of iopt, hw-vtd and hw-smmu convert IOVAs and PAs twice
 * per command.
 */

/** Scratch for `u64ToNumber`: a bigint stored here is read back as two 32-bit halves. */
const SCRATCH = new BigUint64Array(1);
const HALVES = new Uint32Array(SCRATCH.buffer);
/** Which half is the low one on this platform (both views use its byte order). */
const LO = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;

const TWO64 = 2n ** 64n;

/**
 * `Number(x)`, the same value for every bigint. For 0 ≤ x < 2^64 through a
 * BigUint64Array store, which V8 inlines: exact below 2^53, rounded to
 * nearest above as `Number()` rounds (the one rounding is the addition's).
 * Other values (not u64s) go through `Number()`.
 */
export function u64ToNumber(x: bigint): number {
  if (x < 0n || x >= TWO64) return Number(x);
  SCRATCH[0] = x;
  return HALVES[1 - LO]! * 4294967296 + HALVES[LO]!;
}
