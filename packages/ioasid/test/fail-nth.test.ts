/**
 * A failed command leaves no trace: every fallible step of every command,
 * failed in turn (like iommufd_fail_nth.c), returns an errno, logs nothing
 * and leaves the state hash unchanged.
 */
import { combine, stateHash, sweepFailNth } from "@iommu-sim/eventlog";
import type { IoasidCommand } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { createIoasid } from "../src/index";
import { DEV, DEVICES, open, type Root, run, slice, system } from "./fixture";

const decider = combine({ ioasid: createIoasid<Root>({ devices: (_r, rid) => DEVICES[rid] }) });

/** Sweep `command` on the log's current state; @returns the sites failed, in order. */
function sweep(state: Root, command: IoasidCommand): readonly string[] {
  return sweepFailNth(decider, state, command).sites;
}

describe("fail-nth", () => {
  it("ioasid.open: the ioasid_user, then the IOASID set", () => {
    const log = system();
    expect(sweep(log.state, { type: "ioasid.open", data: { pid: 1 } })).toEqual([
      "ioasid.open.kzalloc",
      "ioasid.set_alloc",
    ]);
  });

  it("ioasid.alloc: the ioasid_data allocation", () => {
    const log = system();
    const fd = open(log, 1);
    expect(sweep(log.state, { type: "ioasid.alloc", data: { pid: 1, fd, min: 0, max: 9 } })).toEqual([
      "ioasid.alloc.kzalloc",
    ]);
  });

  it("sva.bind: the bond, the set, the PASID — and only the bond once the mm has them", () => {
    const log = system();
    expect(sweep(log.state, { type: "sva.bind", data: { pid: 1, rid: DEV.nic, flags: 0 } })).toEqual([
      "sva.bond.kzalloc",
      "ioasid.set_alloc",
      "sva.alloc_pasid",
    ]);
    run(log, { type: "sva.bind", data: { pid: 1, rid: DEV.nic, flags: 0 } });
    expect(sweep(log.state, { type: "sva.bind", data: { pid: 1, rid: DEV.dsa, flags: 0 } })).toEqual([
      "sva.bond.kzalloc",
    ]);
  });

  it("system PASIDs and quota groups", () => {
    const log = system();
    run(log, { type: "systemPasid.policy", data: { allowDirectMap: true } });
    expect(sweep(log.state, { type: "systemPasid.enable", data: { rid: DEV.nic } })).toEqual([
      "systemPasid.alloc",
    ]);
    expect(sweep(log.state, { type: "systemPasid.directMap.enable", data: { rid: DEV.dsa } })).toEqual([
      "systemPasid.directMap.alloc",
    ]);
    expect(
      sweep(log.state, { type: "ioasid.cgroup.create", data: { cgroup: 5, parent: 0, max: 0 } }),
    ).toEqual(["ioasid.cgroup.alloc"]);
  });

  it("through the log: an injected failure logs nothing and changes nothing, then the retry succeeds", () => {
    const log = system();
    open(log, 1);
    const before = stateHash(slice(log));
    const seq = log.seq;
    for (let n = 1; n <= 2; n++) {
      log.failNth(n);
      const r = log.dispatch({ type: "sva.bind", data: { pid: 1, rid: DEV.nic, flags: 0 } });
      expect("name" in r && r.name).toBe("ENOMEM");
      expect(log.seq).toBe(seq);
      expect(stateHash(slice(log))).toBe(before);
    }
    expect(run(log, { type: "sva.bind", data: { pid: 1, rid: DEV.nic, flags: 0 } }).at(-1)?.type).toBe(
      "sva.bound",
    );
  });
});
