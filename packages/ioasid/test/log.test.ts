/** The log of a whole scenario: every record validates against VOCABULARY and replays to the same state. */
import { encodeLog, type LogRecord, readLog, stateHash, textSource, Vocabulary } from "@iommu-sim/eventlog";
import { VOCABULARY } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { checkIoasidInvariants } from "../src/index";
import { alloc, DEV, open, run, slice, system } from "./fixture";

function scenario() {
  const log = system();
  run(log, { type: "ioasid.cgroup.create", data: { cgroup: 1, parent: 0, max: 8 } });
  run(log, { type: "ioasid.cgroup.create", data: { cgroup: 2, parent: 1 } });
  run(log, { type: "ioasid.cgroup.setMax", data: { cgroup: 2 } });
  run(log, { type: "ioasid.cgroup.attach", data: { pid: 10, cgroup: 2 } });
  const fd = open(log, 10);
  alloc(log, 10, fd);
  alloc(log, 10, fd, 100, 200);
  run(log, { type: "ioasid.free", data: { pid: 10, fd, pasid: 1 } });
  run(log, { type: "ioasid.process.fork", data: { parent: 10, child: 11 } });
  run(log, { type: "ioasid.fd.share", data: { fd, fromPid: 11, toPid: 12 } });
  run(log, { type: "sva.bind", data: { pid: 10, rid: DEV.nic, flags: 0 } });
  run(log, { type: "sva.bind", data: { pid: 10, rid: DEV.nic, flags: 0 } });
  run(log, { type: "sva.unbind", data: { bond: 1 } });
  run(log, { type: "systemPasid.enable", data: { rid: DEV.dsa } });
  run(log, { type: "systemPasid.policy", data: { allowDirectMap: true } });
  run(log, { type: "systemPasid.directMap.enable", data: { rid: DEV.dsa } });
  run(log, { type: "systemPasid.directMap.disable", data: { rid: DEV.dsa } });
  run(log, { type: "systemPasid.disable", data: { rid: DEV.dsa } });
  run(log, { type: "ioasid.close", data: { pid: 12, fd } });
  run(log, { type: "ioasid.process.exit", data: { pid: 10 } });
  run(log, { type: "ioasid.process.exit", data: { pid: 11 } });
  return log;
}

describe("event log", () => {
  it("writes JSON Lines that validate against VOCABULARY and replay to the same state hash", async () => {
    const log = scenario();
    const types = new Set<string>(log.records.map((r) => r.type));
    // Every ioasid message type is exercised by the scenario — but the SVA fault
    // queue's, which need the drivers' SVA hooks (packages/iommufd/test/sva-*.test.ts).
    const ioasidTypes = VOCABULARY.map((d) => d.type).filter(
      (t) => /^(ioasid|pasid|sva|systemPasid)\./.test(t) && !t.startsWith("sva.iopf."),
    );
    expect(ioasidTypes.filter((t) => !types.has(t))).toEqual([]);

    const opened = await readLog(textSource(encodeLog(log.records)), {
      vocabulary: new Vocabulary(VOCABULARY),
      file: "ioasid.jsonl",
    });
    const records: LogRecord[] = [];
    for await (const b of opened.batches) records.push(...b);
    expect(records.length).toBe(log.records.length);

    const fresh = system();
    const replayed = fresh.replay(records as Parameters<typeof fresh.replay>[0]);
    expect(stateHash(replayed)).toBe(stateHash(log.state));
    // Everything was given back.
    expect(slice(log).space.size).toBe(1);
    expect(Object.values(slice(log).cgroups).map((g) => g.usage)).toEqual([0, 0, 0]);
  });

  it("snapshots are immutable: later allocations do not change an earlier state", () => {
    const log = system();
    const fd = open(log, 1);
    alloc(log, 1, fd);
    const snap = log.snapshot();
    const hash = stateHash(snap.state);
    alloc(log, 1, fd);
    run(log, { type: "ioasid.free", data: { pid: 1, fd, pasid: 1 } });
    expect(stateHash(snap.state)).toBe(hash);
    expect([...snap.state.ioasid.space.ids()]).toEqual([0, 1]);
  });
});

describe("checkIoasidInvariants", () => {
  it("reports a PASID taken in the space that nobody owns, and a wrong usage", () => {
    const log = system();
    const s = slice(log);
    const broken = { ...s, space: s.space.set(7), cgroups: { 0: { cgroup: 0, usage: 3 } } };
    expect(checkIoasidInvariants(broken)).toEqual([
      "space holds [0,7] but owners are [0]",
      "cgroup 0 usage 3 ≠ 0 charged",
    ]);
  });
});
