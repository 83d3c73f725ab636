/**
 * The hot path's u64 helpers (src/iopt/u64.ts) against the plain bigint
 * expressions they replace, on both sides of one page and of 2^53, 2^63.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bigCount, isAligned, pagesIn, toNumber } from "../src/iopt/u64";

const U64_MAX = (1n << 64n) - 1n;
/** u64 values weighted towards page multiples, the switch points and the ends. */
const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: U64_MAX }),
  fc.bigInt({ min: 0n, max: 1n << 20n }),
  fc.bigInt({ min: 0n, max: 1n << 40n }).map((x) => x << 12n),
  ...[12n, 53n, 63n].map((b) => fc.bigInt({ min: (1n << b) - 4096n, max: (1n << b) + 4097n })),
  fc.constantFrom(0n, 1n, 4095n, 4096n, U64_MAX, U64_MAX - 4095n),
);
const pow2 = fc.integer({ min: 0, max: 31 }).map((e) => 2 ** e);

describe("u64 helpers", () => {
  it("golden values", () => {
    expect(isAligned(0x7000_0000_0000n, 4096)).toBe(true);
    expect(isAligned(0x7000_0000_0800n, 4096)).toBe(false);
    expect(isAligned(0x7000_0000_0800n, 2048)).toBe(true);
    expect(isAligned(U64_MAX, 1)).toBe(true);
    expect(isAligned(U64_MAX - 4095n, 4096)).toBe(true);
    expect(pagesIn(4095n)).toBe(0);
    expect(pagesIn(8191n)).toBe(1);
    expect(pagesIn(U64_MAX)).toBe(2 ** 52 - 1);
    expect(toNumber(0x7000_0000_1000n)).toBe(0x7000_0000_1000);
    expect(toNumber(2n ** 53n + 1n)).toBe(2 ** 53); // a tie: to even, as Number() rounds
    expect(toNumber(U64_MAX)).toBe(2 ** 64);
    expect(toNumber(-4097n)).toBe(-4097);
    expect(toNumber(1n << 64n)).toBe(2 ** 64);
    expect(bigCount(1)).toBe(1n);
    expect(bigCount(100_000)).toBe(100_000n);
  });

  it("isAligned(x, a) ⇔ x mod a = 0 for powers of two a ≤ 2^31", () => {
    fc.assert(fc.property(u64, pow2, (x, a) => isAligned(x, a) === (x % BigInt(a) === 0n)));
  });

  it("toNumber(x) = Number(x), for u64s and for any other bigint", () => {
    fc.assert(fc.property(u64, (x) => toNumber(x) === Number(x)));
    const any = fc.bigInt({ min: -(1n << 70n), max: 1n << 70n });
    fc.assert(fc.property(any, (x) => toNumber(x) === Number(x)));
  });

  it("pagesIn(x) = x >> 12, for u64s and for any other bigint", () => {
    fc.assert(fc.property(u64, (x) => pagesIn(x) === Number(x >> 12n)));
    const any = fc.bigInt({ min: -(1n << 70n), max: 1n << 70n });
    fc.assert(fc.property(any, (x) => pagesIn(x) === Number(x >> 12n)));
  });

  it("bigCount(n) = BigInt(n)", () => {
    fc.assert(fc.property(fc.nat({ max: 2 ** 40 }), (n) => bigCount(n) === BigInt(n)));
  });
});
