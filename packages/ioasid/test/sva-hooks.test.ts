/**
 * The SVA driver hooks and the SVA fault queue, with a stand-in driver:
 * the hardware side of a bind comes after the PASID's allocation and its
 * errno fails the bind without a trace; page requests at a bound PASID
 * gather into groups until the last page (Linux io-pgfault.c
 * iommu_report_device_fault(): partial pages wait for LPIG); the iopf work
 * (`sva.iopf.handle`) takes the oldest complete group; an unbind hands the
 * bond's pending groups to the driver and drops them.
 */
import {
  combine,
  createLog,
  type Message,
  type SubsystemDecideContext,
  stateHash,
  sweepFailNth,
} from "@iommu-sim/eventlog";
import { errno, isErrno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { createIoasid, type IoasidState, type SvaHooks, type SvaIopfGroup } from "../src/index";
import { DEV, DEVICES } from "./fixture";

type Root = { readonly ioasid: IoasidState };

/** What the stand-in driver saw. */
interface Seen {
  unbound: { rid: number; pending: readonly SvaIopfGroup[] }[];
  handled: { group: number; pid: number }[];
  refuse?: boolean;
}

function hooks(seen: Seen): SvaHooks<Root> {
  return {
    bind(_root, b, ctx: SubsystemDecideContext<Root>) {
      if (seen.refuse === true) return errno("ENODEV", "no PRI");
      const e = ctx.step("hw.pasid_entry");
      if (e) return e;
      return [{ type: "hw.bound", data: b }];
    },
    unbind(_root, b, pending) {
      seen.unbound.push({ rid: b.rid, pending });
      return [{ type: "hw.unbound", data: b }];
    },
    pageRequestEvents: ["hw.req"],
    pageRequest(root, e) {
      const d = e.data as { rid: number; pasid: number; grpid: number; addr: bigint; last: boolean };
      const bound = Object.values(root.ioasid.bonds).some((b) => b.rid === d.rid && b.pasid === d.pasid);
      if (!bound) return undefined;
      return { source: "hw:0", ...d, read: false, write: true, exec: false, privileged: false };
    },
    handle(_root, group, pid) {
      seen.handled.push({ group: group.id, pid });
      return { events: [{ type: "hw.responded", data: { grpid: group.grpid } }], code: 0 };
    },
  };
}

/** A stand-in hardware subsystem: `hw.raise` reports a page request as its event. */
const hw = {
  commands: ["hw."],
  events: [] as string[],
  initialState: null,
  decide: (_s: null, c: Message) => [{ type: "hw.req", data: c.data }],
  evolve: (s: null) => s,
};

function system(seen: Seen) {
  const ioasid = createIoasid<Root>({ devices: (_r, rid) => DEVICES[rid], sva: hooks(seen) });
  const decider = combine({ ioasid, hw });
  const log = createLog(decider as never) as ReturnType<typeof createLog> & { state: Root };
  const run = (type: string, data: object): Message[] => {
    const r = log.dispatch({ type, data } as never);
    if (isErrno(r)) throw new Error(`${type}: ${r}`);
    return (r as readonly Message[]).map((e) => ({ type: e.type, data: e.data }));
  };
  return { log, run, decider };
}

const req = (rid: number, pasid: number, grpid: number, page: number, last: boolean) => ({
  rid,
  pasid,
  grpid,
  addr: BigInt(page) * 0x1000n,
  last,
});

describe("SVA hooks", () => {
  it("bind: the driver's events come after the PASID's allocation, before sva.bound", () => {
    const seen: Seen = { unbound: [], handled: [] };
    const { run } = system(seen);
    expect(run("sva.bind", { pid: 10, rid: DEV.nic, flags: 0 }).map((e) => e.type)).toEqual([
      "ioasid.set.allocated",
      "ioasid.quota.charged",
      "pasid.allocated",
      "hw.bound",
      "sva.bound",
    ]);
    // A second bind of the same device is a reference: the driver is not asked again.
    expect(run("sva.bind", { pid: 10, rid: DEV.nic, flags: 0 }).map((e) => e.type)).toEqual([
      "sva.referenced",
    ]);
  });

  it("the driver's errno fails the bind and leaves no trace; its fault points are swept with the rest", () => {
    const seen: Seen = { unbound: [], handled: [], refuse: true };
    const { log, decider } = system(seen);
    const before = stateHash(log.state);
    const r = log.dispatch({ type: "sva.bind", data: { pid: 10, rid: DEV.nic, flags: 0 } } as never);
    expect(isErrno(r) && r.name).toBe("ENODEV");
    expect(stateHash(log.state)).toBe(before);
    seen.refuse = false;
    const report = sweepFailNth(decider as never, log.state, {
      type: "sva.bind",
      data: { pid: 10, rid: DEV.nic, flags: 0 },
    });
    expect(report.sites).toEqual([
      "sva.bond.kzalloc",
      "ioasid.set_alloc",
      "sva.alloc_pasid",
      "hw.pasid_entry",
    ]);
  });

  it("page requests at a bound PASID group until the last page; the work takes the oldest complete group", () => {
    const seen: Seen = { unbound: [], handled: [] };
    const { log, run } = system(seen);
    const pasid = (run("sva.bind", { pid: 10, rid: DEV.nic, flags: 0 }).at(-1)!.data as { pasid: number })
      .pasid;
    const none = log.dispatch({ type: "sva.iopf.handle", data: {} } as never);
    expect(isErrno(none) && none.name).toBe("ENOENT");
    run("hw.raise", req(DEV.nic, pasid, 3, 0x10, false));
    run("hw.raise", req(DEV.nic, pasid + 1, 4, 0x20, true)); // not a bound PASID: not SVA's
    run("hw.raise", req(DEV.nic, pasid, 5, 0x30, true));
    expect(log.state.ioasid.iopf.map((g) => [g.id, g.grpid, g.pages.length, g.complete])).toEqual([
      [1, 3, 1, false],
      [2, 5, 1, true],
    ]);
    run("hw.raise", req(DEV.nic, pasid, 3, 0x11, true));
    expect(log.state.ioasid.iopf.map((g) => [g.id, g.pages.map((p) => p.addr), g.complete])).toEqual([
      [1, [0x10000n, 0x11000n], true],
      [2, [0x30000n], true],
    ]);
    const out = run("sva.iopf.handle", {});
    expect(out).toEqual([
      { type: "hw.responded", data: { grpid: 3 } },
      { type: "sva.iopf.handled", data: { group: 1, rid: DEV.nic, pasid, grpid: 3, code: 0 } },
    ]);
    // The work runs for the bond's mm (the binding process).
    expect(seen.handled).toEqual([{ group: 1, pid: 10 }]);
    expect(log.state.ioasid.iopf.map((g) => g.id)).toEqual([2]);
    const missing = log.dispatch({ type: "sva.iopf.handle", data: { group: 1 } } as never);
    expect(isErrno(missing) && missing.name).toBe("ENOENT");
  });

  it("the last unbind hands the bond's pending groups to the driver and drops them from the queue", () => {
    const seen: Seen = { unbound: [], handled: [] };
    const { log, run } = system(seen);
    const bound = run("sva.bind", { pid: 10, rid: DEV.nic, flags: 0 }).at(-1)!.data as {
      pasid: number;
      bond: number;
    };
    run("hw.raise", req(DEV.nic, bound.pasid, 1, 0x10, true));
    run("hw.raise", req(DEV.nic, bound.pasid, 2, 0x20, false));
    expect(
      run("sva.unbind", { bond: bound.bond })
        .map((e) => e.type)
        .slice(0, 2),
    ).toEqual(["hw.unbound", "sva.unbound"]);
    expect(seen.unbound.map((u) => u.pending.map((g) => [g.grpid, g.complete]))).toEqual([
      [
        [1, true],
        [2, false],
      ],
    ]);
    expect(log.state.ioasid.iopf).toEqual([]);
  });

  it("process exit tears the hardware side of each bond down too", () => {
    const seen: Seen = { unbound: [], handled: [] };
    const { run } = system(seen);
    run("sva.bind", { pid: 10, rid: DEV.nic, flags: 0 });
    run("sva.bind", { pid: 10, rid: DEV.dsa, flags: 0 });
    const types = run("ioasid.process.exit", { pid: 10 }).map((e) => e.type);
    expect(types.slice(0, 4)).toEqual(["hw.unbound", "sva.unbound", "hw.unbound", "sva.unbound"]);
    expect(seen.unbound.map((u) => u.rid)).toEqual([DEV.nic, DEV.dsa]);
  });

  it("without hooks there is no fault queue: sva.iopf.handle is ENODEV", () => {
    const log = createLog(combine({ ioasid: createIoasid<Root>({ devices: (_r, rid) => DEVICES[rid] }) }));
    const r = log.dispatch({ type: "sva.iopf.handle", data: {} });
    expect(isErrno(r) && r.name).toBe("ENODEV");
  });
});
