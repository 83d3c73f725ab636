/**
 * Property tests against naive reference models:
 * - second-stage map/unmap (with superpages chosen by the model's own
 *   alignment) translates every probed page exactly as a Map vpn → pfn;
 * - every event the subsystem emits survives the JSON Lines form and
 *   validates against the `vtd.` vocabulary.
 */
import { encodeRecord, Vocabulary } from "@iommu-sim/eventlog";
import { vtdMessages } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FR, IOMMU_READ, IOMMU_WRITE, translate } from "../src/index";
import { ok, RID, system } from "./fixture";

const RW = IOMMU_READ | IOMMU_WRITE;

describe("second-stage map/unmap against a Map model", () => {
  it("translates like the model after any sequence of maps and whole-range unmaps", () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("map" as const),
        // page numbers in a 4 MiB window so ranges collide and 2 MiB leaves occur
        vpn: fc.oneof(
          fc.integer({ min: 0, max: 2047 }),
          fc.integer({ min: 0, max: 3 }).map((x) => x * 512),
        ),
        count: fc.oneof(fc.integer({ min: 1, max: 700 }), fc.integer({ min: 512, max: 1100 })),
        pfn: fc.oneof(
          fc.integer({ min: 1, max: 1 << 20 }),
          fc.integer({ min: 1, max: 2047 }).map((x) => x * 512),
        ),
      }),
      fc.record({ kind: fc.constant("unmap" as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 12 }),
        fc.array(fc.integer({ min: 0, max: 2047 }), { minLength: 8, maxLength: 8 }),
        (ops, probes) => {
          const log = system();
          ok(log, { type: "vtd.unit.add", data: { unit: 0 } });
          ok(log, { type: "vtd.domain.alloc", data: { unit: 0 } });
          ok(log, { type: "vtd.device.attach", data: { unit: 0, rid: RID, did: 2 } });
          const model = new Map<number, number>();
          const ranges: { vpn: number; count: number }[] = [];
          for (const o of ops) {
            if (o.kind === "map") {
              const clash = Array.from({ length: o.count }, (_, i) => o.vpn + i).some((v) => model.has(v));
              const r = log.dispatch({
                type: "vtd.domain.map",
                data: {
                  unit: 0,
                  did: 2,
                  iova: BigInt(o.vpn) * 4096n,
                  pfnRuns: [{ pfn: o.pfn, count: o.count }],
                  prot: RW,
                },
              });
              if (clash) {
                expect(r).toMatchObject({ name: "EADDRINUSE" });
                continue;
              }
              expect(Array.isArray(r)).toBe(true);
              for (let i = 0; i < o.count; i++) model.set(o.vpn + i, o.pfn + i);
              ranges.push({ vpn: o.vpn, count: o.count });
            } else if (ranges.length > 0) {
              const [rg] = ranges.splice(o.pick % ranges.length, 1);
              ok(log, {
                type: "vtd.domain.unmap",
                data: { unit: 0, did: 2, iova: BigInt(rg!.vpn) * 4096n, length: BigInt(rg!.count) * 4096n },
              });
              for (let i = 0; i < rg!.count; i++) model.delete(rg!.vpn + i);
            }
          }
          for (const vpn of [...probes, ...model.keys()].slice(0, 64)) {
            const t = translate(log.state, 0, {
              rid: RID,
              iova: BigInt(vpn) * 4096n + 8n,
              length: 1,
              write: true,
            });
            const want = model.get(vpn);
            if (want === undefined) expect(t).toMatchObject({ kind: "fault", reason: FR.SS_ENTRY_P });
            else expect(t).toEqual({ kind: "ok", runs: [{ pa: BigInt(want) * 4096n + 8n, length: 1 }] });
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("the vocabulary", () => {
  it("accepts every vtd. command and event of a full scenario, after a JSON Lines round trip", () => {
    const log = system();
    ok(log, { type: "vtd.unit.add", data: { unit: 0 } });
    ok(log, { type: "vtd.domain.alloc", data: { unit: 0 } });
    ok(log, { type: "vtd.device.attach", data: { unit: 0, rid: RID, did: 2, pri: true } });
    ok(log, {
      type: "vtd.domain.map",
      data: { unit: 0, did: 2, iova: 0n, pfnRuns: [{ pfn: 0x400, count: 2 }], prot: RW },
    });
    ok(log, {
      type: "vtd.dma",
      data: { unit: 0, rid: RID, iova: 0x10n, length: 4, write: true, bytes: Uint8Array.of(1, 2, 3, 4) },
    });
    ok(log, { type: "vtd.dma", data: { unit: 0, rid: RID, iova: 0x9000n, length: 4, write: false } });
    ok(log, { type: "vtd.prq.consume", data: { unit: 0 } });
    ok(log, { type: "vtd.dma", data: { unit: 0, rid: 0x0400, iova: 0n, length: 4, write: false } });
    ok(log, { type: "vtd.fault.clear", data: { unit: 0, index: 0 } });
    ok(log, { type: "vtd.device.detach", data: { unit: 0, rid: RID } });
    const vocab = new Vocabulary(vtdMessages);
    const types = new Set<string>();
    for (const r of log.records) {
      if (!r.type.startsWith("vtd.")) continue;
      const json = JSON.parse(encodeRecord(r)) as { data: unknown };
      const back = vocab.decode(r.type, json.data);
      expect(back).toEqual({ ok: true, data: r.data });
      types.add(r.type);
    }
    expect(types).toContain("vtd.prq.queued");
    expect(types).toContain("vtd.fault.recorded");
    expect(types).toContain("vtd.iotlb.filled");
  });
});
