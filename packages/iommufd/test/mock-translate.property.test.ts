/**
 * Property: the mock driver's translation (drivers/mock.ts, Linux
 * selftest.c mock_domain_iova_to_phys()) of every 2 KiB IO page of a
 * window, after any sequence of IOMMU_IOAS_MAP (read-only or read-write)
 * and IOMMU_IOAS_UNMAP on an IOAS with a mock domain, is what a naive
 * model says: the PA of the buffer byte behind the IOVA, a permission
 * fault for a write to a read-only area, not-present where nothing is
 * mapped.
 */
import { userVaToPa } from "@iommu-sim/iopt";
import { IOMMU_IOCTL, isErrno, MOCK_APERTURE_START } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deviceOf } from "../src/devices";
import type { HwRoot } from "../src/drivers/driver";
import { mockDriver } from "../src/drivers/mock";
import { Fixture } from "./fixture";
import { bytes } from "./harness";

const PAGE = 4096n;
const IO_PAGE = 2048n;
const BASE = BigInt(MOCK_APERTURE_START);
const SLOTS = 6;
const SLOT = 8n * PAGE; // one area per slot, at most 4 pages

describe("the mock driver translates what the IOAS maps (fast-check against a page map)", () => {
  it("PA of the buffer byte, permission fault for a read-only write, not-present when unmapped", () => {
    const ops = fc.array(
      fc.record({
        slot: fc.integer({ min: 0, max: SLOTS - 1 }),
        pages: fc.integer({ min: 1, max: 4 }),
        bufPage: fc.integer({ min: 0, max: 12 }),
        writable: fc.boolean(),
      }),
      { maxLength: 12 },
    );
    fc.assert(
      fc.property(ops, (steps) => {
        const f = new Fixture(1);
        const dev = deviceOf(
          f.log.state.iommufd,
          f.fd.ctx,
          f.log.state.iommufd.contexts[f.fd.ctx]!.objects[f.idev]!,
        )!;
        // slot → its area: pages, first buffer page, writable
        const model = new Map<number, { pages: number; bufPage: number; writable: boolean }>();
        for (const s of steps) {
          const iova = BASE + BigInt(s.slot) * SLOT;
          if (model.has(s.slot)) {
            expect(f.unmap(iova, BigInt(model.get(s.slot)!.pages) * PAGE)).toBe(0);
            model.delete(s.slot);
            continue;
          }
          const arg = bytes(40, [
            [0, 4, 40],
            [4, 4, 1 | 4 | (s.writable ? 2 : 0)], // FIXED_IOVA | READABLE [| WRITEABLE]
            [8, 4, f.ioas],
            [16, 8, f.buffer + BigInt(s.bufPage) * PAGE],
            [24, 8, BigInt(s.pages) * PAGE],
            [32, 8, iova],
          ]);
          expect(f.fd.ioctl(IOMMU_IOCTL.IOMMU_IOAS_MAP, arg)).toBe(0);
          model.set(s.slot, s);
        }
        const root = f.log.state as unknown as HwRoot;
        for (let io = 0n; io < (BigInt(SLOTS) * SLOT) / IO_PAGE; io++) {
          const off = (io * 0x1d0n) % IO_PAGE; // a byte inside the IO page
          const iova = BASE + io * IO_PAGE + off;
          const slot = Number((io * IO_PAGE) / SLOT);
          const inSlot = io * IO_PAGE - BigInt(slot) * SLOT;
          const a = model.get(slot);
          const read = mockDriver.translate(root, dev, 0, iova, { write: false });
          const write = mockDriver.translate(root, dev, 0, iova, { write: true });
          if (a === undefined || inSlot >= BigInt(a.pages) * PAGE) {
            expect(read).toEqual({
              kind: "fault",
              reason: "not-present",
              addr: iova - off,
              pageRequest: false,
            });
            continue;
          }
          const pa = userVaToPa(f.log.state.mm, 100, f.buffer + BigInt(a.bufPage) * PAGE + inSlot + off);
          if (isErrno(pa)) throw new Error(String(pa));
          expect(read).toEqual({ kind: "ok", pa: BigInt(pa) });
          expect(write).toEqual(
            a.writable
              ? { kind: "ok", pa: BigInt(pa) }
              : { kind: "fault", reason: "permission", addr: iova - off, pageRequest: false },
          );
        }
      }),
      { numRuns: 40, seed: 0x5eed },
    );
  });
});
