/**
 * The IOASID quota as a misc cgroup resource: charge the allocating
 * process's group and every ancestor, uncharge on free, max 0 forbids
 * ("quota=0 by default, raised by the virt manager", seeds/000).
 */
import { stateHash } from "@iommu-sim/eventlog";
import { describe, expect, it } from "vitest";
import { alloc, DEV, fails, open, run, slice, system } from "./fixture";

/** root → vms (max 3) → {vm1 (max 2), vm2 ("max")}; locked (max 0). */
function tree() {
  const log = system();
  run(log, { type: "ioasid.cgroup.create", data: { cgroup: 1, parent: 0, max: 3 } });
  run(log, { type: "ioasid.cgroup.create", data: { cgroup: 2, parent: 1, max: 2 } });
  run(log, { type: "ioasid.cgroup.create", data: { cgroup: 3, parent: 1 } });
  run(log, { type: "ioasid.cgroup.create", data: { cgroup: 4, parent: 0, max: 0 } });
  return log;
}

describe("quota groups", () => {
  it("a group with max 0 cannot allocate: EINVAL, and nothing is charged or taken", () => {
    const log = tree();
    run(log, { type: "ioasid.cgroup.attach", data: { pid: 100, cgroup: 4 } });
    const fd = open(log, 100);
    const hash = stateHash(slice(log));
    const e = fails(log, { type: "ioasid.alloc", data: { pid: 100, fd, min: 0, max: 100 } }, "EINVAL");
    expect(e.reason).toMatch(/quota/);
    expect(stateHash(slice(log))).toBe(hash);
  });

  it("raising the max lets the process allocate (the virt manager's step)", () => {
    const log = tree();
    run(log, { type: "ioasid.cgroup.attach", data: { pid: 100, cgroup: 4 } });
    const fd = open(log, 100);
    run(log, { type: "ioasid.cgroup.setMax", data: { cgroup: 4, max: 1 } });
    expect(alloc(log, 100, fd)).toBe(1);
    fails(log, { type: "ioasid.alloc", data: { pid: 100, fd, min: 0, max: 100 } }, "EINVAL");
  });

  it("charges the group and every ancestor; a parent's max binds its children together", () => {
    const log = tree();
    run(log, { type: "ioasid.cgroup.attach", data: { pid: 100, cgroup: 2 } });
    run(log, { type: "ioasid.cgroup.attach", data: { pid: 200, cgroup: 3 } });
    const a = open(log, 100);
    const b = open(log, 200);
    alloc(log, 100, a);
    alloc(log, 100, a);
    fails(log, { type: "ioasid.alloc", data: { pid: 100, fd: a, min: 0, max: 99 } }, "EINVAL"); // vm1 max 2
    alloc(log, 200, b); // vms reaches its max 3
    fails(log, { type: "ioasid.alloc", data: { pid: 200, fd: b, min: 0, max: 99 } }, "EINVAL"); // vms max 3
    const g = slice(log).cgroups;
    expect([g[0]!.usage, g[1]!.usage, g[2]!.usage, g[3]!.usage, g[4]!.usage]).toEqual([3, 3, 2, 1, 0]);
    run(log, { type: "ioasid.free", data: { pid: 100, fd: a, pasid: 1 } });
    expect(slice(log).cgroups[1]!.usage).toBe(2);
    expect(alloc(log, 200, b)).toBe(1);
  });

  it("exhausting the quota leaks nothing: closing returns every charge", () => {
    const log = tree();
    run(log, { type: "ioasid.cgroup.attach", data: { pid: 100, cgroup: 2 } });
    const fd = open(log, 100);
    alloc(log, 100, fd);
    alloc(log, 100, fd);
    fails(log, { type: "ioasid.alloc", data: { pid: 100, fd, min: 0, max: 99 } }, "EINVAL");
    run(log, { type: "ioasid.close", data: { pid: 100, fd } });
    const s = slice(log);
    expect(Object.values(s.cgroups).map((g) => g.usage)).toEqual([0, 0, 0, 0, 0]);
    expect(s.space.size).toBe(1);
  });

  it("SVA binds are charged too: over quota → ENOMEM (iommu_sva_alloc_pasid)", () => {
    const log = tree();
    run(log, { type: "ioasid.cgroup.attach", data: { pid: 100, cgroup: 4 } });
    fails(log, { type: "sva.bind", data: { pid: 100, rid: DEV.nic, flags: 0 } }, "ENOMEM");
    expect(slice(log).sets).toEqual({});
  });

  it("keeps charges where they were made when the process moves (misc cgroup does not migrate)", () => {
    const log = tree();
    run(log, { type: "ioasid.cgroup.attach", data: { pid: 100, cgroup: 2 } });
    const fd = open(log, 100);
    alloc(log, 100, fd);
    run(log, { type: "ioasid.cgroup.attach", data: { pid: 100, cgroup: 3 } });
    alloc(log, 100, fd); // the set stays charged to the group it was created in
    expect(slice(log).cgroups[2]!.usage).toBe(2);
    expect(slice(log).cgroups[3]!.usage).toBe(0);
  });

  it("refuses bad group commands: EEXIST, ENOENT, and no misc.max on the root (EINVAL)", () => {
    const log = tree();
    fails(log, { type: "ioasid.cgroup.create", data: { cgroup: 2, parent: 0 } }, "EEXIST");
    fails(log, { type: "ioasid.cgroup.create", data: { cgroup: 9, parent: 8 } }, "ENOENT");
    fails(log, { type: "ioasid.cgroup.setMax", data: { cgroup: 8, max: 1 } }, "ENOENT");
    fails(log, { type: "ioasid.cgroup.setMax", data: { cgroup: 0, max: 1 } }, "EINVAL");
    fails(log, { type: "ioasid.cgroup.attach", data: { pid: 1, cgroup: 8 } }, "ENOENT");
  });

  it("a forked child inherits its parent's group", () => {
    const log = tree();
    run(log, { type: "ioasid.cgroup.attach", data: { pid: 100, cgroup: 4 } });
    run(log, { type: "ioasid.process.fork", data: { parent: 100, child: 101 } });
    const fd = open(log, 101);
    fails(log, { type: "ioasid.alloc", data: { pid: 101, fd, min: 0, max: 9 } }, "EINVAL");
  });
});
