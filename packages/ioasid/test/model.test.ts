/**
 * /dev/ioasid against a naive reference model (fast-check): random
 * sequences of open, close, share, fork, alloc, free and exit from a few
 * processes on a small (5-bit) PASID space must give the same results —
 * the same errno or the same PASID — and the same sets and files.
 */
import type { IoasidCommand } from "@iommu-sim/uapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkIoasidInvariants, setPasids } from "../src/index";
import { slice, system } from "./fixture";

const CAP = 32;

/** The reference: plain Maps and Sets, written straight from the RFC's rules. */
class Model {
  files = new Map<number, { mm: number; holders: number[] }>();
  users = new Map<number, number>();
  sets = new Map<number, Set<number>>();
  taken = new Set<number>([0]);
  lastFd = 0;

  private freeSet(mm: number): void {
    for (const id of this.sets.get(mm) ?? []) this.taken.delete(id);
    this.sets.delete(mm);
    this.users.delete(mm);
  }

  private held(pid: number, fd: number) {
    const f = this.files.get(fd);
    return f?.holders.includes(pid) ? f : undefined;
  }

  /** @returns the errno name, or the allocated PASID, or "ok". */
  apply(c: IoasidCommand): string | number {
    switch (c.type) {
      case "ioasid.open": {
        if (this.users.has(c.data.pid)) return "EBUSY";
        const fd = ++this.lastFd;
        this.files.set(fd, { mm: c.data.pid, holders: [c.data.pid] });
        this.users.set(c.data.pid, fd);
        this.sets.set(c.data.pid, new Set());
        return "ok";
      }
      case "ioasid.close": {
        const f = this.held(c.data.pid, c.data.fd);
        if (!f) return "EBADF";
        f.holders.splice(f.holders.indexOf(c.data.pid), 1);
        if (f.holders.length === 0) {
          this.files.delete(c.data.fd);
          if (this.users.get(f.mm) === c.data.fd) this.freeSet(f.mm);
        }
        return "ok";
      }
      case "ioasid.fd.share": {
        const f = this.held(c.data.fromPid, c.data.fd);
        if (!f) return "EBADF";
        f.holders.push(c.data.toPid);
        return "ok";
      }
      case "ioasid.process.fork": {
        const { parent, child } = c.data;
        const known = this.sets.has(child) || [...this.files.values()].some((f) => f.holders.includes(child));
        if (child === parent || known) return "EEXIST";
        for (const f of this.files.values())
          for (const p of [...f.holders]) if (p === parent) f.holders.push(child);
        return "ok";
      }
      case "ioasid.process.exit": {
        const pid = c.data.pid;
        for (const [fd, f] of [...this.files]) {
          f.holders = f.holders.filter((p) => p !== pid);
          if (f.holders.length === 0) {
            this.files.delete(fd);
            if (this.users.get(f.mm) === fd) this.freeSet(f.mm);
          }
        }
        this.freeSet(pid);
        return "ok";
      }
      case "ioasid.alloc":
      case "ioasid.free": {
        const { pid, fd } = c.data;
        const f = this.held(pid, fd);
        if (!f) return "EBADF";
        if (f.mm !== pid || this.users.get(pid) !== fd) return "EPERM";
        const set = this.sets.get(pid)!;
        if (c.type === "ioasid.free") {
          if (!set.has(c.data.pasid)) return "ENOENT";
          set.delete(c.data.pasid);
          this.taken.delete(c.data.pasid);
          return "ok";
        }
        if (c.data.min > c.data.max) return "EINVAL";
        for (let id = c.data.min; id <= Math.min(c.data.max, CAP - 1); id++)
          if (!this.taken.has(id)) {
            this.taken.add(id);
            set.add(id);
            return id;
          }
        return "EINVAL";
      }
      default:
        throw new Error(`not modelled: ${c.type}`);
    }
  }
}

// Few processes and fds, so most requests reach the interesting checks rather than EBADF.
const pid = fc.integer({ min: 1, max: 3 });
/** 0 stands for "the caller's own /dev/ioasid fd", resolved when the command runs. */
const fd = fc.integer({ min: 0, max: 4 });
const id = fc.integer({ min: 0, max: CAP + 2 });
const cmd: fc.Arbitrary<IoasidCommand> = fc.oneof(
  { arbitrary: pid.map((p) => ({ type: "ioasid.open" as const, data: { pid: p } })), weight: 3 },
  fc.record({ pid, fd }).map((data) => ({ type: "ioasid.close" as const, data })),
  fc.record({ fd, fromPid: pid, toPid: pid }).map((data) => ({ type: "ioasid.fd.share" as const, data })),
  fc.record({ parent: pid, child: pid }).map((data) => ({ type: "ioasid.process.fork" as const, data })),
  pid.map((p) => ({ type: "ioasid.process.exit" as const, data: { pid: p } })),
  fc.record({ pid, fd, min: id, max: id }).map((data) => ({ type: "ioasid.alloc" as const, data })),
  {
    arbitrary: fc.record({ pid, fd, min: fc.constant(0), max: fc.constant(CAP - 1) }).map((data) => ({
      type: "ioasid.alloc" as const,
      data,
    })),
    weight: 6,
  },
  {
    arbitrary: fc.record({ pid, fd, pasid: id }).map((data) => ({ type: "ioasid.free" as const, data })),
    weight: 3,
  },
);

/** Replace fd 0 by the caller's own open fd (or an fd nobody holds). */
function resolveOwnFd(c: IoasidCommand, model: Model): IoasidCommand {
  if (!("fd" in c.data) || c.data.fd !== 0) return c;
  const who = "pid" in c.data ? c.data.pid : c.data.fromPid;
  return { ...c, data: { ...c.data, fd: model.users.get(who) ?? 99 } } as IoasidCommand;
}

describe("/dev/ioasid vs a naive model", () => {
  it("agrees on every result, every set and every file", () => {
    fc.assert(
      fc.property(fc.array(cmd, { minLength: 10, maxLength: 80 }), (cmds) => {
        const log = system({ pasidBits: 5 });
        const model = new Model();
        for (const raw of cmds) {
          const c = resolveOwnFd(raw, model);
          const r = log.dispatch(c);
          const allocated = "name" in r ? undefined : r.find((e) => e.type === "pasid.allocated");
          const got =
            "name" in r ? r.name : ((allocated?.data as { pasid: number } | undefined)?.pasid ?? "ok");
          expect([c, got]).toEqual([c, model.apply(c)]);
          const s = slice(log);
          expect([...s.space.ids()]).toEqual([...model.taken].sort((a, b) => a - b));
          for (const mm of [1, 2, 3])
            expect(setPasids(s, mm)).toEqual([...(model.sets.get(mm) ?? [])].sort((a, b) => a - b));
          expect(Object.keys(s.files).map(Number)).toEqual([...model.files.keys()].sort((a, b) => a - b));
          for (const [k, f] of model.files)
            expect(s.files[k]!.holders).toEqual([...f.holders].sort((a, b) => a - b));
          expect(s.cgroups[0]!.usage).toBe(model.taken.size - 1);
          expect(checkIoasidInvariants(s)).toEqual([]);
        }
      }),
      { numRuns: 300 },
    );
  });
});
