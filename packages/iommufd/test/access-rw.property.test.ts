/**
 * A fast-check property of IOMMU_TEST_OP_ACCESS_RW against a naive model:
 * a 16-page buffer is mapped as two areas (split at a random page, the
 * second possibly pinned by an item, the IOAS possibly with a mock
 * domain) at an IOVA a random number of bytes into a page; after any
 * sequence of reads and writes of random ranges through the access, every
 * read returns exactly the model's bytes (a plain byte array indexed by
 * IOVA − base), a range leaving the mapping is ENOENT, and the buffer ends
 * equal to the model.
 */
import { checkInvariants } from "@iommu-sim/iopt";
import {
  MOCK_ACCESS_RW_WRITE,
  MOCK_APERTURE_START,
  MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
} from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AccessFixture, firstDifference } from "./access-fixture";

const PAGE = 4096;
const SIZE = 16 * PAGE;
const ENOENT = -2;

const opArb = fc.record({
  write: fc.boolean(),
  at: fc.integer({ min: 0, max: SIZE + 64 }),
  length: fc.integer({ min: 1, max: 3 * PAGE }),
  seed: fc.integer({ min: 0, max: 255 }),
});

describe("ACCESS_RW against a byte-array model", () => {
  it("reads return the model's bytes and writes land in the user buffer", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 15 }),
        fc.integer({ min: 0, max: 1 }),
        fc.constantFrom(0n, 2048n, 123n),
        fc.boolean(),
        fc.array(opArb, { maxLength: 12 }),
        (split, domains, offset, pin, ops) => {
          const f = new AccessFixture(domains);
          // With a mock domain the IOVA must be 2 KiB aligned (MOCK_IO_PAGE_SIZE); without, any byte.
          const base = BigInt(MOCK_APERTURE_START) + (domains > 0 && offset === 123n ? 2048n : offset);
          const first = BigInt(split * PAGE);
          expect(f.map(first, base)[0]).toBe(0);
          expect(f.map(BigInt(SIZE) - first, base + first, true, f.buffer + first)[0]).toBe(0);
          const [, fd] = f.createAccess(f.ioas, 0);
          if (pin && offset === 0n) {
            // A pinning access (4 KiB IOVA alignment) and an item on the second area's first page.
            const [rc, pinFd] = f.createAccess(f.ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
            expect(rc).toBe(0);
            expect(f.accessPages(pinFd, base + first, BigInt(PAGE), 0n)[0]).toBe(0);
          }
          const model = f.readUser(f.buffer, SIZE).slice();
          const tmp = f.userAlloc(BigInt(4 * PAGE));
          for (const op of ops) {
            const inside = op.at + op.length <= SIZE;
            if (op.write) {
              const bytes = new Uint8Array(op.length).map((_, i) => (op.seed + i * 7) & 0xff);
              f.writeUser(tmp, bytes);
              const rc = f.accessRw(fd, base + BigInt(op.at), BigInt(op.length), tmp, MOCK_ACCESS_RW_WRITE);
              expect(rc).toBe(inside ? 0 : ENOENT);
              if (inside) model.set(bytes, op.at);
            } else {
              const rc = f.accessRw(fd, base + BigInt(op.at), BigInt(op.length), tmp);
              expect(rc).toBe(inside ? 0 : ENOENT);
              if (inside)
                expect(f.readUser(tmp, op.length)).toEqual(model.subarray(op.at, op.at + op.length));
            }
          }
          expect(firstDifference(f.readUser(f.buffer, SIZE), model)).toBe(-1);
          expect(checkInvariants(f.log.state as never)).toEqual([]);
        },
      ),
      { seed: 4242, numRuns: 60 },
    );
  }, 60_000);
});
