/**
 * The mirror of a real process's memory (src/memory/external.ts) on a log
 * of iopt's subsystems plus a stand-in device that stores bytes at a
 * physical address (`dev.dma` → `mm.phys.written`, as a DMA write is). The
 * "process" is a byte array behind the `UserMemory` interface, with the
 * mappings and credentials /proc would report.
 */
import { combine, createLog, type Message, type Subsystem, stateHash } from "@iommu-sim/eventlog";
import type { UserMemory } from "@iommu-sim/iommufd";
import {
  ioptSubsystems,
  type MmState,
  mdCheckRefs,
  mockDomainDescriptor,
  readUser,
  userVaToPa,
} from "@iommu-sim/iopt";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { ExternalMemory } from "../src/memory/external";

const PID = 4242;
/** The process's one mapping: 64 KiB read-write at 0x10000 (as a /proc/<pid>/maps line "00010000-00020000 rw-p"). */
const BASE = 0x10000;
const SIZE = 0x10000;
/** IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE (include/uapi/linux/iommufd.h). */
const RW = 2 | 4;

/** A process's memory: bytes at [BASE, BASE + SIZE), EFAULT elsewhere; counts writes. */
class FakeProcess implements UserMemory {
  readonly bytes = new Uint8Array(SIZE);
  writes = 0;
  read(va: bigint, length: number): Uint8Array | Errno {
    const off = Number(va) - BASE;
    if (off < 0 || off + length > SIZE) return errno("EFAULT");
    return this.bytes.slice(off, off + length);
  }
  write(va: bigint, bytes: Uint8Array): Errno | undefined {
    const off = Number(va) - BASE;
    if (off < 0 || off + bytes.length > SIZE) return errno("EFAULT");
    this.bytes.set(bytes, off);
    this.writes++;
    return undefined;
  }
}

/** A device that writes RAM: `dev.dma {pa, bytes}` → `mm.phys.written`. */
const dev: Subsystem<Message, Message, null, unknown> = {
  commands: ["dev."],
  events: [],
  initialState: null,
  decide: (_s, c) => [{ type: "mm.phys.written", data: c.data }],
  evolve: (s) => s,
};

function setup() {
  const log = createLog(combine({ ...ioptSubsystems, dev }));
  const proc = new FakeProcess();
  const external = new ExternalMemory(log, {
    maps: () => [{ start: BASE, end: BASE + SIZE, prot: 3, offset: 0 }],
    credentials: () => ({ uid: 1000, memlockLimit: 8n << 20n, capIpcLock: false }),
  });
  external.track(PID, proc);
  const port = external.port();
  port.dispatch({ type: "ioas.create", data: { ioas: 1 } });
  port.dispatch({ type: "iopt.mock.alloc", data: { domain: 2 } });
  port.dispatch({ type: "ioas.attach_domain", data: { ioas: 1, domain: mockDomainDescriptor(2) } });
  return { log, proc, external, port };
}

const mm = (log: { peek(): { mm: MmState } }) => log.peek().mm;

describe("external process memory", () => {
  it("IOAS_MAP of a real buffer mirrors exactly the mapped pages, with the process's credentials, and pins them", () => {
    const { log, port } = setup();
    const r = port.dispatch({
      type: "ioas.map",
      data: {
        ioas: 1,
        pid: PID,
        userVa: BigInt(BASE + 0x1000),
        length: 0x2000n,
        iova: 0x100_0000n,
        flags: RW | 1,
      },
    });
    expect(isErrno(r)).toBe(false);
    const cmds = log.records.filter((x) => x.kind === "command").map((x) => [x.type, x.data]);
    expect(cmds).toContainEqual([
      "mm.spawn",
      { pid: PID, uid: 1000, memlockLimit: 8n << 20n, capIpcLock: false },
    ]);
    expect(cmds).toContainEqual([
      "mm.mmap",
      { pid: PID, addr: BigInt(BASE + 0x1000), length: 0x2000n, prot: 3, shared: false },
    ]);
    // Each page pinned once, as MD_CHECK_REFS would see it.
    expect(mdCheckRefs(log.peek(), PID, BigInt(BASE + 0x1000), 0x2000n, 1)).toBeUndefined();
    // A second map of the same pages mirrors nothing more.
    const before = log.records.length;
    port.dispatch({
      type: "ioas.map",
      data: {
        ioas: 1,
        pid: PID,
        userVa: BigInt(BASE + 0x1000),
        length: 0x1000n,
        iova: 0x200_0000n,
        flags: RW | 1,
      },
    });
    expect(log.records.slice(before).map((x) => x.type)).not.toContain("mm.mmap");
  });

  it("memory the process has not mapped stays unmapped: pinning it is EFAULT", () => {
    const { port } = setup();
    const r = port.dispatch({
      type: "ioas.map",
      data: {
        ioas: 1,
        pid: PID,
        userVa: BigInt(BASE + SIZE),
        length: 0x1000n,
        iova: 0x100_0000n,
        flags: RW | 1,
      },
    });
    expect(isErrno(r) && r.name).toBe("EFAULT");
  });

  it("the process's stores reach the model before a device reads (sync logs them as mm.write)", () => {
    const { log, proc, external, port } = setup();
    port.dispatch({
      type: "ioas.map",
      data: { ioas: 1, pid: PID, userVa: BigInt(BASE), length: 0x2000n, iova: 0x100_0000n, flags: RW | 1 },
    });
    proc.bytes.set([0x68, 0x65, 0x6c, 0x6c, 0x6f], 0x1010); // "hello" at BASE + 0x1010
    external.sync();
    const last = log.records.filter((x) => x.kind === "command").at(-1)!;
    expect([last.type, last.data]).toEqual([
      "mm.write",
      { pid: PID, va: BigInt(BASE + 0x1010), bytes: Uint8Array.of(0x68, 0x65, 0x6c, 0x6c, 0x6f) },
    ]);
    expect(readUser(mm(log), PID, BigInt(BASE + 0x1010), 5)).toEqual(
      Uint8Array.of(0x68, 0x65, 0x6c, 0x6c, 0x6f),
    );
    // Nothing changed since: a second sync logs nothing, and the sync never wrote back.
    const n = log.records.length;
    external.sync();
    expect(log.records.length).toBe(n);
    expect(proc.writes).toBe(0);
  });

  it("a device's write to a pinned frame lands in the process at the same VA", () => {
    const { log, proc, port } = setup();
    port.dispatch({
      type: "ioas.map",
      data: { ioas: 1, pid: PID, userVa: BigInt(BASE), length: 0x2000n, iova: 0x100_0000n, flags: RW | 1 },
    });
    const pa = userVaToPa(mm(log), PID, BigInt(BASE + 0x1ffe)) as number;
    // 4 bytes across the page boundary at BASE + 0x2000: only the first 2 are in a mirrored page.
    port.dispatch({ type: "dev.dma", data: { pa: BigInt(pa), bytes: Uint8Array.of(1, 2, 3, 4) } });
    expect([...proc.bytes.subarray(0x1ffe, 0x2002)]).toEqual([1, 2, 0, 0]);
  });

  it("after the process exits its mirror is gone; the log replays to the same state", () => {
    const { log, proc, external, port } = setup();
    port.dispatch({
      type: "ioas.map",
      data: { ioas: 1, pid: PID, userVa: BigInt(BASE), length: 0x1000n, iova: 0x100_0000n, flags: RW | 1 },
    });
    const pa = userVaToPa(mm(log), PID, BigInt(BASE)) as number;
    external.exited(PID);
    expect(mm(log).processes.has(PID)).toBe(false);
    port.dispatch({ type: "dev.dma", data: { pa: BigInt(pa), bytes: Uint8Array.of(9) } });
    expect(proc.writes).toBe(0);
    const replay = createLog(combine({ ...ioptSubsystems, dev }));
    replay.replay(log.records);
    expect(stateHash(replay.state)).toBe(stateHash(log.state));
  });

  it("memory the process unmaps leaves the mirror: its old frame stays pinned but no longer reaches the process", () => {
    const { log, proc, external, port } = setup();
    const map = (iova: bigint) =>
      port.dispatch({
        type: "ioas.map",
        data: { ioas: 1, pid: PID, userVa: BigInt(BASE), length: 0x1000n, iova, flags: RW | 1 },
      });
    map(0x100_0000n);
    const oldPa = userVaToPa(mm(log), PID, BigInt(BASE)) as number;
    external.unmapped(PID, BigInt(BASE), 0x1000n);
    const last = log.records.filter((x) => x.kind === "command").at(-1)!;
    expect([last.type, last.data]).toEqual(["mm.munmap", { pid: PID, addr: BigInt(BASE), length: 0x1000n }]);
    // Linux keeps the page pinned by the area, though the process no longer maps it.
    expect(mdCheckRefs(log.peek(), PID, BigInt(BASE), 0x1000n, 1)?.name).toBe("EFAULT");
    port.dispatch({ type: "dev.dma", data: { pa: BigInt(oldPa), bytes: Uint8Array.of(7) } });
    expect(proc.writes).toBe(0);
    // Mapping the address again mirrors the new memory: a new frame, pinned once.
    map(0x200_0000n);
    expect(userVaToPa(mm(log), PID, BigInt(BASE))).not.toBe(oldPa);
    expect(mdCheckRefs(log.peek(), PID, BigInt(BASE), 0x1000n, 1)).toBeUndefined();
  });
});

describe("IOMMU_IOAS_MAP_FILE's fd (ExternalMemory.fileObject)", () => {
  /** A process whose fd 5 is a memfd of `size` bytes ("00:01 77", as /proc/<pid>/maps names shmem) mapped shared at BASE. */
  function withMemfd(size: () => number) {
    const log = createLog(combine({ ...ioptSubsystems, dev }));
    const proc = new FakeProcess();
    const key = "00:01:77";
    const external = new ExternalMemory(log, {
      maps: () => [{ start: BASE, end: BASE + SIZE, prot: 3, offset: 0, key }],
      credentials: () => ({ uid: 1000, memlockLimit: 8n << 20n, capIpcLock: false }),
      objectSize: () => size(),
      fdFile: (_pid, fd) =>
        fd === 5
          ? { key, size: size(), shmem: true }
          : fd === 6
            ? { key: "08:02:9", size: 4096, shmem: false }
            : undefined,
    });
    external.track(PID, proc);
    return { log, proc, external };
  }

  it("the memfd is one model file (its size in 4 KiB pages) shared with the program's mapping of it", () => {
    const { log, external } = withMemfd(() => SIZE - 100);
    const file = external.fileObject(PID, 5);
    expect(typeof file).toBe("number");
    expect(mm(log).objects.get(file as number)?.length).toBe(SIZE);
    // The process was spawned (MAP_FILE charges it) and its mapping of the memfd mirrored onto the same file.
    const vma = mm(log).processes.get(PID)!.vmas[0]!;
    expect([vma.start, vma.end, vma.shared, vma.object]).toEqual([BASE, BASE + SIZE, true, file]);
    expect(external.fileObject(PID, 5)).toBe(file);
  });

  it("an fd that is not open is undefined (EBADF); one that is not shmem is EINVAL; an empty memfd is EINVAL", () => {
    let size = SIZE;
    const { external } = withMemfd(() => size);
    expect(external.fileObject(PID, 9)).toBeUndefined();
    expect(external.fileObject(PID + 1, 5)).toBeUndefined(); // not a live tracked process
    expect((external.fileObject(PID, 6) as Errno).name).toBe("EINVAL");
    size = 0;
    expect((external.fileObject(PID, 5) as Errno).name).toBe("EINVAL");
  });

  it("a memfd truncated below the model's size becomes a new model file (its old pages are gone)", () => {
    let size = SIZE;
    const { log, external } = withMemfd(() => size);
    const first = external.fileObject(PID, 5) as number;
    size = 4096;
    const second = external.fileObject(PID, 5) as number;
    expect(second).not.toBe(first);
    expect(mm(log).objects.get(second)?.length).toBe(4096);
    size = SIZE; // grown again: the model keeps the file it has
    expect(external.fileObject(PID, 5)).toBe(second);
  });
});
