/**
 * fast-check: any sequence of TRIGGER_VEVENTs, reads of any length and
 * polls on a mock vEVENTQ of any depth gives the bytes and poll bits of a
 * naive transcription of Linux's list handling — drivers/iommu/iommufd/
 * iommufd_private.h iommufd_vevent_handler() (the lost-events header
 * leaves the tail when anything is added; every add takes the next
 * sequence, & INT_MAX), driver.c iommufd_viommu_report_event()
 * (num_events == depth → the header is added instead) and eventq.c
 * iommufd_veventq_fops_read() (fetch the head; stop when its header, or a
 * vEVENT's header + data, does not fit; num_events-- for a vEVENT).
 */

import { IOMMU_IOCTL } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { iommufdFilePoll, iommufdFileRead } from "../src/index";
import { view } from "./fixture";
import { bytes } from "./harness";
import { hwptSelftest } from "./nested-support";
import { DATA_SELFTEST, IOTLB_DEFAULT, ViommuFixture } from "./viommu-support";

const VIRT_ID = 0x5a;

/** A node of the naive deliver list: a vEVENT or THE lost-events header (one object, as in Linux). */
type Node = { flags: number; sequence: number; data: number[] };

class NaiveVeventq {
  list: Node[] = [];
  readonly lostHeader: Node = { flags: 1, sequence: 0, data: [] };
  numEvents = 0;
  sequence = 0;
  constructor(readonly depth: number) {}

  private handler(node: Node): void {
    if (this.list[this.list.length - 1] === this.lostHeader) this.list.pop();
    this.list.push(node);
    node.sequence = this.sequence;
    this.sequence = (this.sequence + 1) & 0x7fffffff;
  }

  report(data: number[]): void {
    if (this.numEvents === this.depth) {
      this.handler(this.lostHeader);
      return;
    }
    this.numEvents++;
    this.handler({ flags: 0, sequence: 0, data });
  }

  read(count: number): number[] {
    const out: number[] = [];
    for (;;) {
      const cur = this.list[0];
      if (cur === undefined) break;
      if (out.length >= count || 8 > count - out.length) break;
      if (cur !== this.lostHeader && 8 + cur.data.length > count - out.length) break;
      this.list.shift();
      const h = new Uint8Array(8);
      new DataView(h.buffer).setUint32(0, cur.flags, true);
      new DataView(h.buffer).setUint32(4, cur.sequence, true);
      out.push(...h, ...cur.data);
      if (cur !== this.lostHeader) this.numEvents--;
    }
    return out;
  }

  poll(): number {
    return this.list.length > 0 ? 0x41 : 0;
  }
}

type Op = { kind: "trigger" } | { kind: "read"; count: number } | { kind: "poll" };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: "trigger" } as const) },
  {
    weight: 2,
    arbitrary: fc.integer({ min: 0, max: 64 }).map((count) => ({ kind: "read", count }) as const),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "poll" } as const) },
);

describe("vEVENTQ against a naive model of eventq.c", () => {
  it("reads the same bytes and polls the same bits for any triggers, reads and depth", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 40 }), (depth, ops) => {
        const f = new ViommuFixture();
        const [, viommu] = f.viommuAlloc(f.idev, f.parent);
        const [, nested] = f.hwptAlloc(f.idev, viommu, 0, DATA_SELFTEST, hwptSelftest(IOTLB_DEFAULT));
        expect(f.vdeviceAlloc(viommu, f.idev, BigInt(VIRT_ID))[0]).toBe(0);
        expect(f.mockReplace(f.stdev, nested)).toBe(0);
        const arg = bytes(32, [
          [0, 4, 32],
          [8, 4, viommu],
          [12, 4, 0xbeefbeef],
          [16, 4, depth],
        ]);
        expect(f.fd.ioctl(IOMMU_IOCTL.IOMMU_VEVENTQ_ALLOC, arg)).toBe(0);
        const file = { kind: "veventq", ctx: f.fd.ctx, id: view(arg).getUint32(20, true) } as const;
        const model = new NaiveVeventq(depth);
        for (const o of ops) {
          if (o.kind === "trigger") {
            expect(f.test(17, 0, [[0, 4, f.idev]])[0]).toBe(0);
            model.report([VIRT_ID, 0, 0, 0]);
          } else if (o.kind === "read") {
            const got = iommufdFileRead(f.fd.env(), file, o.count);
            expect(got instanceof Uint8Array ? [...got] : got).toEqual(model.read(o.count));
          } else {
            expect(iommufdFilePoll(f.fd.env(), file)).toBe(model.poll());
          }
        }
      }),
      { numRuns: 60, seed: 0x7e7e },
    );
  });
});
