/**
 * SVA bind as seeds/001 leaves iommu_sva_bind_device(dev, flags): the
 * caller's mm, no flags, refcounted bonds, one PASID per mm.
 */
import { describe, expect, it } from "vitest";
import { findBond, setPasids } from "../src/index";
import { alloc, DEV, fails, open, run, slice, system } from "./fixture";

const bind = (pid: number, rid: number, flags = 0) => ({
  type: "sva.bind" as const,
  data: { pid, rid, flags },
});

describe("sva.bind", () => {
  it("binds the caller's mm: set, charge, PASID and bond, with everything a hardware model needs", () => {
    const log = system();
    expect(run(log, bind(100, DEV.nic))).toEqual([
      { type: "ioasid.set.allocated", data: { mm: 100, cgroup: 0 } },
      { type: "ioasid.quota.charged", data: { cgroup: 0, mm: 100, count: 1 } },
      { type: "pasid.allocated", data: { pasid: 1, use: "sva", mm: 100 } },
      { type: "sva.bound", data: { bond: 1, rid: DEV.nic, mm: 100, pasid: 1 } },
    ]);
    expect(setPasids(slice(log), 100)).toEqual([1]);
  });

  it("binding the same device and process again returns the same bond with one more reference", () => {
    const log = system();
    run(log, bind(100, DEV.nic));
    expect(run(log, bind(100, DEV.nic))).toEqual([{ type: "sva.referenced", data: { bond: 1, refs: 2 } }]);
    expect(run(log, { type: "sva.unbind", data: { bond: 1 } })).toEqual([
      { type: "sva.unreferenced", data: { bond: 1, refs: 1 } },
    ]);
    expect(run(log, { type: "sva.unbind", data: { bond: 1 } })).toEqual([
      { type: "sva.unbound", data: { bond: 1, rid: DEV.nic, mm: 100, pasid: 1 } },
      { type: "pasid.freed", data: { pasid: 1, use: "sva", mm: 100 } },
      { type: "ioasid.quota.uncharged", data: { cgroup: 0, mm: 100, count: 1 } },
      { type: "ioasid.set.freed", data: { mm: 100 } },
    ]);
    fails(log, { type: "sva.unbind", data: { bond: 1 } }, "ENOENT");
    expect(slice(log).space.size).toBe(1);
  });

  it("uses one PASID per mm across devices (mm->pasid) and keeps it until the last bond goes", () => {
    const log = system();
    run(log, bind(100, DEV.nic));
    expect(run(log, bind(100, DEV.dsa))).toEqual([
      { type: "sva.bound", data: { bond: 2, rid: DEV.dsa, mm: 100, pasid: 1 } },
    ]);
    expect(run(log, bind(200, DEV.dsa)).at(-1)).toEqual({
      type: "sva.bound",
      data: { bond: 3, rid: DEV.dsa, mm: 200, pasid: 2 },
    });
    run(log, { type: "sva.unbind", data: { bond: 1 } });
    expect(slice(log).space.has(1)).toBe(true);
    expect(findBond(slice(log), DEV.dsa, 100)?.pasid).toBe(1);
  });

  it("refuses flags (the supervisor flag was removed): EINVAL", () => {
    const log = system();
    fails(log, bind(100, DEV.dsa, 1), "EINVAL");
    fails(log, bind(100, DEV.dsa, 0x80000000), "EINVAL");
  });

  it("needs a device with an IOMMU group (ENODEV), alone in it (EINVAL), with PASID enabled (ENODEV)", () => {
    const log = system();
    fails(log, bind(100, 0xffff), "ENODEV");
    fails(log, bind(100, DEV.grouped), "EINVAL");
    fails(log, bind(100, DEV.noPasid), "ENODEV");
  });

  it("checks the group before the flags, as iommu_sva_bind_device() does", () => {
    const log = system();
    expect(fails(log, bind(100, DEV.grouped, 1), "EINVAL").reason).toMatch(/group/);
  });

  it("stays within what the device can emit: EOVERFLOW when the mm's PASID is beyond it", () => {
    const log = system();
    const fd = open(log, 999);
    for (let i = 1; i < 16; i++) alloc(log, 999, fd, 1, 15); // PASIDs 1..15 taken
    run(log, bind(100, DEV.nic)); // mm 100 gets 16
    fails(log, bind(100, DEV.narrow), "EOVERFLOW");
    fails(log, bind(200, DEV.narrow), "ENOMEM"); // nothing free in [1, 15]
  });

  it("shares the mm's set with /dev/ioasid: closing the fd keeps the SVA PASID", () => {
    const log = system();
    const fd = open(log, 100);
    alloc(log, 100, fd);
    run(log, bind(100, DEV.nic));
    expect(setPasids(slice(log), 100)).toEqual([1, 2]);
    expect(run(log, { type: "ioasid.close", data: { pid: 100, fd } }).map((e) => e.type)).toEqual([
      "ioasid.fd.closed",
      "pasid.freed",
      "ioasid.quota.uncharged",
      "ioasid.released",
    ]);
    expect(setPasids(slice(log), 100)).toEqual([2]);
  });

  it("process exit unbinds every bond of the mm and frees its PASIDs", () => {
    const log = system();
    run(log, bind(100, DEV.nic));
    run(log, bind(100, DEV.nic));
    run(log, bind(100, DEV.dsa));
    expect(run(log, { type: "ioasid.process.exit", data: { pid: 100 } })).toEqual([
      { type: "sva.unbound", data: { bond: 1, rid: DEV.nic, mm: 100, pasid: 1 } },
      { type: "sva.unbound", data: { bond: 2, rid: DEV.dsa, mm: 100, pasid: 1 } },
      { type: "pasid.freed", data: { pasid: 1, use: "sva", mm: 100 } },
      { type: "ioasid.quota.uncharged", data: { cgroup: 0, mm: 100, count: 1 } },
      { type: "ioasid.set.freed", data: { mm: 100 } },
      { type: "ioasid.process.exited", data: { pid: 100 } },
    ]);
    const s = slice(log);
    expect(s.bonds).toEqual({});
    expect(s.space.size).toBe(1);
  });
});
