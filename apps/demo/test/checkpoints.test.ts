/**
 * The viewer's checkpoints (web/src/checkpoints.ts) against the log's own
 * `stateAt`, the reference: any sequence of slider positions gives the
 * same states, and a state handed out never changes afterwards (the
 * checkpoints seal the epoch before evolving further).
 */
import { createLog, type Message, stateHash } from "@iommu-sim/eventlog";
import { isErrno } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Checkpoints } from "../web/src/checkpoints";
import { defaultSystem } from "../web/src/system";

/** A log of `rounds` open / 2 × IOASID alloc / free / close rounds (13 records each), replayed into a viewer-like log. */
function viewerLog(rounds: number, snapshotEvery: number) {
  const live = createLog(defaultSystem(), { snapshotEvery: 1 << 30 });
  const run = (c: Message) => {
    const r = live.dispatch(c);
    if (isErrno(r)) throw new Error(`${c.type}: ${r}`);
    return r;
  };
  run({ type: "ioasid.open", data: { pid: 100 } });
  for (let i = 0; i < rounds; i++) {
    const ctx = (run({ type: "iommufd.open", data: { pid: 100, vfio: false } })[0]!.data as { ctx: number })
      .ctx;
    const alloc = { type: "ioasid.alloc", data: { pid: 100, fd: 1, min: 1, max: 0xfffff } };
    const first = run(alloc).find((e) => e.type === "pasid.allocated")!.data as { pasid: number };
    run(alloc);
    run({ type: "ioasid.free", data: { pid: 100, fd: 1, pasid: first.pasid } });
    run({ type: "iommufd.close", data: { ctx } });
  }
  const log = createLog(defaultSystem(), { snapshotEvery });
  log.append(live.records as never);
  return log;
}

describe("viewer checkpoints", () => {
  const log = viewerLog(60, 64);

  it("any sequence of positions gives stateAt's states, unchanged later", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: log.seq }), { minLength: 1, maxLength: 12 }), (seqs) => {
        const cp = new Checkpoints(log, 16, 64);
        const seen: [number, unknown, string][] = [];
        for (const s of seqs) {
          const st = cp.stateAt(s);
          expect(stateHash(st)).toBe(stateHash(log.stateAt(s)));
          seen.push([s, st, stateHash(st)]);
        }
        for (const [, st, h] of seen) expect(stateHash(st)).toBe(h);
      }),
      { numRuns: 25 },
    );
  });

  it("keeps checkpoints only every 16 records along the way walked from the log's snapshot", () => {
    const cp = new Checkpoints(log, 16, 64);
    cp.stateAt(64 + 50); // from the log's snapshot at 64: checkpoints at 80, 96, 112
    expect(cp.size).toBe(3);
    cp.stateAt(64 + 20); // inside the walked range: no new checkpoint
    expect(cp.size).toBe(3);
    expect(() => cp.stateAt(log.seq + 1)).toThrow(RangeError);
  });
});
