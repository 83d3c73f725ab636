/**
 * /dev/ioasid through typed commands: the RFC's rules (seeds/000,
 * ioasid_user.c and Documentation/userspace-api/ioasid.rst) and its
 * misbehaving-user cases.
 */
import { stateHash } from "@iommu-sim/eventlog";
import { describe, expect, it } from "vitest";
import { setPasids } from "../src/index";
import { alloc, fails, open, run, slice, system } from "./fixture";

describe("open and close", () => {
  it("gives the first open fd 1 and creates the caller's IOASID set (token: its mm)", () => {
    const log = system();
    expect(run(log, { type: "ioasid.open", data: { pid: 100 } })).toEqual([
      { type: "ioasid.set.allocated", data: { mm: 100, cgroup: 0 } },
      { type: "ioasid.opened", data: { pid: 100, fd: 1, mm: 100 } },
    ]);
    expect(slice(log).users).toEqual({ 100: 1 });
  });

  it("allows only one open per process: a second open → EBUSY", () => {
    const log = system();
    open(log, 100);
    fails(log, { type: "ioasid.open", data: { pid: 100 } }, "EBUSY");
  });

  it("lets a forked child (a new mm) open its own, and the process open again after closing", () => {
    const log = system();
    const fd = open(log, 100);
    run(log, { type: "ioasid.process.fork", data: { parent: 100, child: 101 } });
    expect(open(log, 101)).toBe(2);
    run(log, { type: "ioasid.close", data: { pid: 100, fd } });
    // The child still holds fd 1 (inherited), so the file is not released yet; mm 100 has it open.
    fails(log, { type: "ioasid.open", data: { pid: 100 } }, "EBUSY");
    run(log, { type: "ioasid.close", data: { pid: 101, fd } });
    expect(open(log, 100)).toBe(3);
  });

  it("closing an fd the process does not hold → EBADF", () => {
    const log = system();
    const fd = open(log, 100);
    fails(log, { type: "ioasid.close", data: { pid: 200, fd } }, "EBADF");
    fails(log, { type: "ioasid.close", data: { pid: 100, fd: 9 } }, "EBADF");
  });

  it("closing the last fd frees every PASID of the set, uncharges them and frees the set", () => {
    const log = system();
    const fd = open(log, 100);
    alloc(log, 100, fd);
    alloc(log, 100, fd);
    expect(run(log, { type: "ioasid.close", data: { pid: 100, fd } })).toEqual([
      { type: "ioasid.fd.closed", data: { fd: 1, pid: 100 } },
      { type: "pasid.freed", data: { pasid: 1, use: "ioasid", mm: 100 } },
      { type: "pasid.freed", data: { pasid: 2, use: "ioasid", mm: 100 } },
      { type: "ioasid.quota.uncharged", data: { cgroup: 0, mm: 100, count: 2 } },
      { type: "ioasid.set.freed", data: { mm: 100 } },
      { type: "ioasid.released", data: { fd: 1, mm: 100 } },
    ]);
    const s = slice(log);
    expect(s.space.size).toBe(1); // only the reserved PASID 0
    expect(s.sets).toEqual({});
    expect(s.files).toEqual({});
    expect(s.cgroups[0]!.usage).toBe(0);
  });
});

describe("IOASID_REQUEST_ALLOC", () => {
  it("hands out the lowest free PASID, skipping PASID 0 (reserved for RID2PASID)", () => {
    const log = system();
    const fd = open(log, 100);
    expect(run(log, { type: "ioasid.alloc", data: { pid: 100, fd, min: 0, max: 100 } })).toEqual([
      { type: "ioasid.quota.charged", data: { cgroup: 0, mm: 100, count: 1 } },
      { type: "pasid.allocated", data: { pasid: 1, use: "ioasid", mm: 100 } },
    ]);
    expect(alloc(log, 100, fd, 0, 100)).toBe(2);
    expect(alloc(log, 100, fd, 50, 60)).toBe(50);
    expect(alloc(log, 100, fd, 60, 60)).toBe(60);
    expect(setPasids(slice(log), 100)).toEqual([1, 2, 50, 60]);
  });

  it("hands out PASID 0 when the platform does not reserve it", () => {
    const log = system({ reservePasid0: false });
    const fd = open(log, 100);
    expect(alloc(log, 100, fd, 0, 10)).toBe(0);
  });

  it("shares one platform space between sets: ids are unique across processes", () => {
    const log = system();
    const a = open(log, 100);
    const b = open(log, 200);
    expect([alloc(log, 100, a), alloc(log, 200, b), alloc(log, 100, a)]).toEqual([1, 2, 3]);
    expect(setPasids(slice(log), 200)).toEqual([2]);
  });

  it("refuses bad ranges with EINVAL: min > max, a bound ≥ 2^31", () => {
    const log = system();
    const fd = open(log, 100);
    fails(log, { type: "ioasid.alloc", data: { pid: 100, fd, min: 5, max: 4 } }, "EINVAL");
    fails(log, { type: "ioasid.alloc", data: { pid: 100, fd, min: 0, max: 2 ** 31 } }, "EINVAL");
    fails(log, { type: "ioasid.alloc", data: { pid: 100, fd, min: 2 ** 31, max: 2 ** 32 - 1 } }, "EINVAL");
  });

  it("fails with EINVAL (the RFC's answer to INVALID_IOASID) when the range has no free PASID", () => {
    const log = system();
    const fd = open(log, 100);
    alloc(log, 100, fd, 7, 7);
    fails(log, { type: "ioasid.alloc", data: { pid: 100, fd, min: 7, max: 7 } }, "EINVAL");
    // A range valid for the 31-bit uAPI but beyond the 20-bit PCIe PASID space has nothing to give.
    fails(log, { type: "ioasid.alloc", data: { pid: 100, fd, min: 2 ** 20, max: 2 ** 31 - 1 } }, "EINVAL");
  });

  it("refuses an fd obtained by fork or SCM_RIGHTS (EPERM), and one not held (EBADF)", () => {
    const log = system();
    const fd = open(log, 100);
    run(log, { type: "ioasid.process.fork", data: { parent: 100, child: 101 } });
    run(log, { type: "ioasid.fd.share", data: { fd, fromPid: 100, toPid: 300 } });
    fails(log, { type: "ioasid.alloc", data: { pid: 101, fd, min: 0, max: 10 } }, "EPERM");
    fails(log, { type: "ioasid.alloc", data: { pid: 300, fd, min: 0, max: 10 } }, "EPERM");
    fails(log, { type: "ioasid.alloc", data: { pid: 400, fd, min: 0, max: 10 } }, "EBADF");
    fails(log, { type: "ioasid.fd.share", data: { fd, fromPid: 400, toPid: 401 } }, "EBADF");
  });
});

describe("IOASID_REQUEST_FREE", () => {
  it("frees a PASID of the caller's set and uncharges it; the id is then the lowest free again", () => {
    const log = system();
    const fd = open(log, 100);
    const p = alloc(log, 100, fd);
    alloc(log, 100, fd);
    expect(run(log, { type: "ioasid.free", data: { pid: 100, fd, pasid: p } })).toEqual([
      { type: "pasid.freed", data: { pasid: 1, use: "ioasid", mm: 100 } },
      { type: "ioasid.quota.uncharged", data: { cgroup: 0, mm: 100, count: 1 } },
    ]);
    expect(alloc(log, 100, fd)).toBe(1);
  });

  it("double free, a never-allocated id and another set's id → ENOENT, and nothing changes", () => {
    const log = system();
    const a = open(log, 100);
    const b = open(log, 200);
    const mine = alloc(log, 100, a);
    const theirs = alloc(log, 200, b);
    run(log, { type: "ioasid.free", data: { pid: 100, fd: a, pasid: mine } });
    const hash = stateHash(slice(log));
    fails(log, { type: "ioasid.free", data: { pid: 100, fd: a, pasid: mine } }, "ENOENT");
    fails(log, { type: "ioasid.free", data: { pid: 100, fd: a, pasid: 500 } }, "ENOENT");
    fails(log, { type: "ioasid.free", data: { pid: 100, fd: a, pasid: theirs } }, "ENOENT");
    expect(stateHash(slice(log))).toBe(hash);
    expect(setPasids(slice(log), 200)).toEqual([theirs]);
  });

  it("refuses a transferred fd (EPERM) and an id that is negative as a C int (EINVAL)", () => {
    const log = system();
    const fd = open(log, 100);
    const p = alloc(log, 100, fd);
    run(log, { type: "ioasid.fd.share", data: { fd, fromPid: 100, toPid: 300 } });
    fails(log, { type: "ioasid.free", data: { pid: 300, fd, pasid: p } }, "EPERM");
    fails(log, { type: "ioasid.free", data: { pid: 100, fd, pasid: 2 ** 32 - 1 } }, "EINVAL");
  });
});

describe("process exit", () => {
  it("frees the set when its owner goes, even while a child still holds the fd", () => {
    const log = system();
    const fd = open(log, 100);
    alloc(log, 100, fd);
    run(log, { type: "ioasid.process.fork", data: { parent: 100, child: 101 } });
    expect(run(log, { type: "ioasid.process.exit", data: { pid: 100 } })).toEqual([
      { type: "ioasid.fd.closed", data: { fd: 1, pid: 100 } },
      { type: "pasid.freed", data: { pasid: 1, use: "ioasid", mm: 100 } },
      { type: "ioasid.quota.uncharged", data: { cgroup: 0, mm: 100, count: 1 } },
      { type: "ioasid.set.freed", data: { mm: 100 } },
      { type: "ioasid.process.exited", data: { pid: 100 } },
    ]);
    // The child's inherited fd is orphaned: it can neither allocate nor keep anything alive.
    fails(log, { type: "ioasid.alloc", data: { pid: 101, fd, min: 0, max: 9 } }, "EPERM");
    expect(run(log, { type: "ioasid.close", data: { pid: 101, fd } })).toEqual([
      { type: "ioasid.fd.closed", data: { fd: 1, pid: 101 } },
      { type: "ioasid.released", data: { fd: 1, mm: 100 } },
    ]);
    const s = slice(log);
    expect(s.space.size).toBe(1);
    expect(s.files).toEqual({});
  });

  it("closes every hold of the exiting process and releases files it held last", () => {
    const log = system();
    const fd = open(log, 100);
    run(log, { type: "ioasid.fd.share", data: { fd, fromPid: 100, toPid: 100 } }); // dup via SCM_RIGHTS to itself
    const events = run(log, { type: "ioasid.process.exit", data: { pid: 100 } });
    expect(events.map((e) => e.type)).toEqual([
      "ioasid.fd.closed",
      "ioasid.fd.closed",
      "ioasid.released",
      "ioasid.set.freed",
      "ioasid.process.exited",
    ]);
    expect(slice(log).files).toEqual({});
  });

  it("refuses to fork onto a process that exists (EEXIST)", () => {
    const log = system();
    open(log, 100);
    open(log, 200);
    fails(log, { type: "ioasid.process.fork", data: { parent: 100, child: 200 } }, "EEXIST");
  });
});
