/**
 * Property: a VT-d and an SMMUv3 device attached to one IOAS translate
 * exactly what the IOAS maps, after any sequence of IOMMU_IOAS_MAP/UNMAP —
 * against a naive model (IOVA page → buffer page). Every step first makes
 * both devices read (so IOTLB/TLB entries exist), so a missing or wrong
 * invalidation after an unmap shows up as a stale translation.
 */
import { dmaRead as smmuDmaRead } from "@iommu-sim/hw-smmu";
import { dmaRead as vtdDmaRead } from "@iommu-sim/hw-vtd";
import { isErrno } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rid } from "../src/index";
import { Fixture } from "./fixture";

const PAGE = 4096n;
const BASE = 0x40_0000n;
const SLOT = 8n * PAGE; // one area per slot, at most 4 pages
const NIC = rid(3, 0, 0);
const GPU = rid(0, 1, 0);

describe("hardware domains follow their IOAS (fast-check against a page map)", () => {
  it("every device read returns the buffer page the model says, or faults when unmapped", () => {
    const ops = fc.array(
      fc.record({
        slot: fc.integer({ min: 0, max: 5 }),
        pages: fc.integer({ min: 1, max: 4 }),
        bufPage: fc.integer({ min: 0, max: 12 }),
        probe: fc.integer({ min: 0, max: 6 * 8 - 1 }),
      }),
      { maxLength: 20 },
    );
    fc.assert(
      fc.property(ops, (steps) => {
        const f = new Fixture(0);
        const pattern = Uint8Array.from({ length: 16 * 4096 }, (_, i) => (i >> 12) * 16 + (i & 15));
        f.log.dispatch({ type: "mm.write", data: { pid: 100, va: f.buffer, bytes: pattern } });
        for (const device of ["nic0", "gpu0"]) {
          const r = f.log.dispatch({ type: "iommufd.device.bind", data: { ctx: f.fd.ctx, device } });
          if (isErrno(r)) throw new Error(`${r}`);
          const devId = (r[0]!.data as { id: number }).id;
          f.log.dispatch({ type: "iommufd.device.attach", data: { ctx: f.fd.ctx, devId, ptId: f.ioas } });
        }
        const model = new Map<number, { pages: number; bufPage: number }>(); // slot → area
        const expected = (iovaPage: number): number | undefined => {
          const a = model.get(Math.floor(iovaPage / 8));
          const i = iovaPage % 8;
          return a !== undefined && i < a.pages ? a.bufPage + i : undefined;
        };
        const check = (iovaPage: number) => {
          const iova = BASE + BigInt(iovaPage) * PAGE;
          f.log.dispatch({ type: "vtd.dma", data: { unit: 0, rid: NIC, iova, length: 16, write: false } });
          f.log.dispatch({
            type: "smmu.dma",
            data: { instance: 0, sid: GPU, iova, length: 16, write: false },
          });
          const want = expected(iovaPage);
          const v = vtdDmaRead(f.log.state, 0, { rid: NIC, iova, length: 16, write: false });
          const s = smmuDmaRead(f.log.state, 0, { sid: GPU, iova, length: 16 });
          if (want === undefined) {
            expect(v).toMatchObject({ kind: "fault" });
            expect(s).toMatchObject({ ok: false });
          } else {
            const bytes = pattern.slice(want * 4096, want * 4096 + 16);
            expect(v).toEqual(bytes);
            expect(s).toEqual(bytes);
          }
        };
        for (const st of steps) {
          check(st.probe);
          const iova = BASE + BigInt(st.slot) * SLOT;
          const area = model.get(st.slot);
          if (area !== undefined) {
            expect(f.unmap(iova, BigInt(area.pages) * PAGE)).toBe(0);
            model.delete(st.slot);
          } else {
            const uptr = f.buffer + BigInt(st.bufPage) * PAGE;
            expect(f.map(BigInt(st.pages) * PAGE, iova, true, uptr)[0]).toBe(0);
            model.set(st.slot, { pages: st.pages, bufPage: st.bufPage });
          }
          check(st.probe);
          check(st.slot * 8);
        }
      }),
      { numRuns: 25 },
    );
  });
});
