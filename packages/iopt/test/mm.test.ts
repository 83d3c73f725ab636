/**
 * The process memory model: mmap placement and MAP_FIXED, munmap, lazy
 * frames, reads and writes, fork with copy-on-write private pages and
 * shared MAP_SHARED pages, eager copies of pinned pages at fork (Linux
 * mm/memory.c copy_present_page()), DMA writes to RAM.
 */
import { isErrno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { lookupPage, MMAP_BASE, readUser } from "../src/index";
import { MOCK_APERTURE_START, PAGE, Sim } from "./fixture";

const bytes = (...xs: number[]) => new Uint8Array(xs);

describe("mm", () => {
  it("places mappings top-down below mmap_base and honours MAP_FIXED", () => {
    const sim = new Sim({ buffer: false });
    const a = sim.mmap(3n * PAGE);
    const b = sim.mmap(PAGE);
    expect(a).toBe(BigInt(MMAP_BASE) - 3n * PAGE);
    expect(b).toBe(a - PAGE);
    expect(sim.mmap(PAGE, { addr: 0x1000_0000n })).toBe(0x1000_0000n);
    expect(sim.err({ type: "mm.mmap", data: { pid: 1, length: 0n, prot: 3, shared: false } })).toBe("EINVAL");
    expect(
      sim.err({ type: "mm.mmap", data: { pid: 1, addr: 0x1001n, length: PAGE, prot: 3, shared: false } }),
    ).toBe("EINVAL");
    expect(sim.err({ type: "mm.mmap", data: { pid: 9, length: PAGE, prot: 3, shared: false } })).toBe(
      "ESRCH",
    );
  });

  it("reads zeros from untouched memory without allocating; writes fault frames in", () => {
    const sim = new Sim({ buffer: false });
    const a = sim.mmap(2n * PAGE);
    expect(readUser(sim.state.mm, 1, a, 8)).toEqual(new Uint8Array(8));
    expect(lookupPage(sim.state.mm, 1, Number(a / PAGE))).toBe(-1);
    sim.write(a + PAGE - 2n, bytes(1, 2, 3, 4));
    expect(readUser(sim.state.mm, 1, a + PAGE - 2n, 4)).toEqual(bytes(1, 2, 3, 4));
    expect(lookupPage(sim.state.mm, 1, Number(a / PAGE))).toBeGreaterThanOrEqual(0);
    const e = readUser(sim.state.mm, 1, a + 2n * PAGE, 1);
    expect(isErrno(e) && e.name).toBe("EFAULT");
    expect(sim.err({ type: "mm.write", data: { pid: 1, va: a + 2n * PAGE - 1n, bytes: bytes(1, 2) } })).toBe(
      "EFAULT",
    );
  });

  it("munmap splits a VMA and drops its pages", () => {
    const sim = new Sim({ buffer: false });
    const a = sim.mmap(3n * PAGE);
    sim.write(a, new Uint8Array(Number(3n * PAGE)).fill(5));
    sim.munmap(a + PAGE, PAGE);
    expect(readUser(sim.state.mm, 1, a, 1)).toEqual(bytes(5));
    expect(readUser(sim.state.mm, 1, a + 2n * PAGE, 1)).toEqual(bytes(5));
    expect(isErrno(readUser(sim.state.mm, 1, a + PAGE, 1))).toBe(true);
    expect(sim.state.mm.processes.get(1)!.vmas.length).toBe(2);
  });

  it("fork: private pages are copy-on-write, shared pages stay shared", () => {
    const sim = new Sim({ buffer: false });
    const priv = sim.mmap(PAGE);
    const shared = sim.mmap(PAGE, { shared: true });
    sim.write(priv, bytes(1));
    sim.write(shared, bytes(1));
    sim.ok({ type: "mm.fork", data: { parent: 1, child: 2 } });
    expect(readUser(sim.state.mm, 2, priv, 1)).toEqual(bytes(1));
    sim.write(priv, bytes(2), 2);
    sim.write(shared, bytes(3), 2);
    expect(readUser(sim.state.mm, 1, priv, 1)).toEqual(bytes(1));
    expect(readUser(sim.state.mm, 2, priv, 1)).toEqual(bytes(2));
    expect(readUser(sim.state.mm, 1, shared, 1)).toEqual(bytes(3));
    // A shared page faulted in by the child after fork is seen by the parent.
    const s2 = sim.mmap(2n * PAGE, { shared: true });
    sim.ok({ type: "mm.fork", data: { parent: 1, child: 3 } });
    sim.write(s2 + PAGE, bytes(9), 3);
    expect(readUser(sim.state.mm, 1, s2 + PAGE, 1)).toEqual(bytes(9));
    expect(sim.err({ type: "mm.fork", data: { parent: 1, child: 2 } })).toBe("EEXIST");
  });

  it("fork copies a pinned private page for the child at once; the pinned frame stays the parent's", () => {
    const sim = new Sim({ buffer: false });
    const a = sim.mmap(2n * PAGE);
    sim.write(a, bytes(7));
    const ioas = sim.ioasAlloc();
    sim.mockDomain(ioas);
    sim.map(ioas, a, PAGE, MOCK_APERTURE_START);
    const pinned = lookupPage(sim.state.mm, 1, Number(a / PAGE));
    sim.ok({ type: "mm.fork", data: { parent: 1, child: 2 } });
    const child = lookupPage(sim.state.mm, 2, Number(a / PAGE));
    expect(child).not.toBe(pinned);
    expect(readUser(sim.state.mm, 2, a, 1)).toEqual(bytes(7));
    // The parent writes in place (no COW break): the IOMMU keeps seeing its writes.
    sim.write(a, bytes(8));
    expect(lookupPage(sim.state.mm, 1, Number(a / PAGE))).toBe(pinned);
    sim.checkRefs(a, PAGE, 1);
    expect(readUser(sim.state.mm, 2, a, 1)).toEqual(bytes(7));
  });

  it("mm.phys.written stores to RAM by physical address", () => {
    const sim = new Sim({ buffer: false });
    const a = sim.mmap(PAGE, { shared: true });
    sim.write(a, bytes(0));
    const pfn = lookupPage(sim.state.mm, 1, Number(a / PAGE)) as number;
    // A device DMA write: any subsystem may emit mm.phys.written; here through a mock decider-free append.
    sim.log.append([
      {
        seq: sim.log.seq + 1,
        kind: "event",
        type: "mm.phys.written",
        data: { pa: BigInt(pfn) * PAGE + 3n, bytes: bytes(0xaa, 0xbb) },
      },
    ]);
    expect(readUser(sim.state.mm, 1, a + 3n, 2)).toEqual(bytes(0xaa, 0xbb));
  });

  it("exit removes the process; its pinned frames stay pinned", () => {
    const sim = new Sim({ buffer: false });
    const a = sim.mmap(PAGE);
    const ioas = sim.ioasAlloc();
    sim.mockDomain(ioas);
    sim.map(ioas, a, PAGE, MOCK_APERTURE_START);
    const pfn = lookupPage(sim.state.mm, 1, Number(a / PAGE)) as number;
    sim.ok({ type: "mm.exit", data: { pid: 1 } });
    expect(sim.err({ type: "mm.exit", data: { pid: 1 } })).toBe("ESRCH");
    expect(sim.state.iopt.pinCounts.readU32(pfn * 4)).toBe(1);
  });
});
