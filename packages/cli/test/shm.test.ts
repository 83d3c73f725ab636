/**
 * The shared-slot transport (src/daemon/shm.ts, protocol.md "Shared
 * slot"): its checksum, the request snapshot the shim sends with an ioctl,
 * and C programs that hammer the handshake from one and several threads,
 * across forks, and with the transport switched off.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { isErrno } from "@iommu-sim/uapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcMemory } from "../src/daemon/memory";
import type { Daemon } from "../src/daemon/server";
import { SLOT, slotSum } from "../src/daemon/slot";
import type { Model } from "../src/model";
import { buildShim, nodeApiIncludeDir } from "../src/shim/build";
import { cProgram, HAS_CC, modelDaemon, runClient } from "./support";

const ascii = (s: string) => new TextEncoder().encode(s);
/** util-linux taskset(1), to pin the daemon and a program to one CPU. */
const HAS_TASKSET = spawnSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" }).status === 0;

describe("slot records", () => {
  it("slotSum is 32-bit FNV-1a whose offset basis is XORed with the sequence number", () => {
    // FNV-1a test vectors (Fowler/Noll/Vo, draft-eastlake-fnv): "", "a", "foobar".
    expect(slotSum(0, ascii(""))).toBe(0x811c9dc5);
    expect(slotSum(0, ascii("a"))).toBe(0xe40c292c);
    expect(slotSum(0, ascii("foobar"))).toBe(0xbf9cf968);
    expect(slotSum(1, ascii(""))).toBe(0x811c9dc4);
  });

  it("the layout keeps the request and reply frames (≤ 8192 bytes each) apart, inside the memfd", () => {
    expect(SLOT.REQ + 8192).toBeLessThanOrEqual(SLOT.REP_SEQ);
    expect(SLOT.REP + 8192).toBeLessThanOrEqual(SLOT.SIZE);
    expect(SLOT.SIZE % 4096).toBe(0);
  });
});

describe("ProcMemory snapshots", () => {
  it("reads inside the shim's copy are served from it, reads past it go to /proc/<pid>/mem, and it ends with the request", () => {
    const memory = ProcMemory.open(process.pid);
    if (isErrno(memory)) throw new Error(memory.reason);
    try {
      // 0x1000 is below mmap_min_addr: never mapped, so only the snapshot can answer.
      const va = 0x1000n;
      memory.withSnapshot(va, Uint8Array.of(1, 2, 3, 4), () => {
        expect(memory.read(va + 1n, 3)).toEqual(Uint8Array.of(2, 3, 4));
        const past = memory.read(va, 5);
        expect(isErrno(past) && past.name).toBe("EFAULT");
      });
      const after = memory.read(va, 4);
      expect(isErrno(after) && after.name).toBe("EFAULT");
    } finally {
      memory.close();
    }
  });
});

/** The daemon maps slots (slot-map.ts) where Node's headers let it build its addon; `slotMap: false` uses pread/pwrite. */
const IO_KINDS = [
  { slotMap: true, kind: nodeApiIncludeDir() !== undefined ? "mapped" : "pread" },
  { slotMap: false, kind: "pread" },
] as const;

describe.skipIf(!HAS_CC).each(IO_KINDS)(
  "the shared slot under load ($kind)",
  { timeout: 120_000 },
  ({ slotMap, kind }) => {
    let model: Model;
    let daemon: Daemon;
    let shim: string;
    let internalErrors: unknown[];

    beforeAll(async () => {
      shim = buildShim();
      // No CPU pressure: the shims keep to their slots whatever else runs on the machine.
      ({ model, daemon, internalErrors } = await modelDaemon({ cpuPressure: () => 0, slotMap }));
    });
    afterAll(() => daemon.close());

    /** Requests served through slots so far. */
    const served = () => daemon.slots().served;

    it("random pauses, slow maps and bad pointers never lose a request or a reply (one thread)", async () => {
      const before = served();
      const { wakes, woke } = daemon.slots();
      const r = await runClient(shim, daemon.socketPath, cProgram("hammer"), ["1", "800", "1"]);
      expect(r.stdout).toBe("PASSED\n");
      // open, SET, IOAS_ALLOC, then at least one ioctl per step: all through the slot.
      expect(served() - before).toBeGreaterThanOrEqual(803);
      // Sleeps past the daemon's window (≤ 200 µs) need a WAKE; 4 MiB maps (ms of model work) outlast the
      // shim's spin (≤ 50 µs), so it sleeps and the daemon must WAKE it.
      expect(daemon.slots().wakes).toBeGreaterThan(wakes);
      expect(daemon.slots().woke).toBeGreaterThan(woke);
      expect(internalErrors).toEqual([]);
    });

    it("threads of one process take turns on its slot", async () => {
      const before = served();
      const r = await runClient(shim, daemon.socketPath, cProgram("hammer"), ["2", "300", "4"]);
      expect(r.stdout).toBe("PASSED\n");
      expect(served() - before).toBeGreaterThanOrEqual(4 * 303);
    });

    it("forked children attach slots of their own while the parent keeps using its", async () => {
      const before = served();
      const r = await runClient(shim, daemon.socketPath, cProgram("fork_slot"));
      expect(r.stdout).toBe("PASSED\n");
      // parent: open + SET + 400 + FORK/FORK_DONE ×3 + 1; each child: open + SET + 800.
      expect(served() - before).toBeGreaterThanOrEqual(2 + 400 + 6 + 1 + 3 * 802);
    });

    it("IOMMU_SIM_TRANSPORT=socket keeps every request on the socket, with the same answers", async () => {
      const before = served();
      const r = await runClient(shim, daemon.socketPath, cProgram("hammer"), ["3", "300", "2"], {
        IOMMU_SIM_TRANSPORT: "socket",
      });
      expect(r.stdout).toBe("PASSED\n");
      expect(served()).toBe(before);
    });

    it("under CPU pressure requests go on the socket; flipping back and forth loses nothing", async () => {
      let calls = 0;
      const { daemon: pressured } = await modelDaemon({
        onInternalError: (e) => internalErrors.push(e),
        cpuPressure: () => (pressure === "flip" ? (calls++ % 2) * 100 : 100),
        // Re-read at every routing decision, so the flips do not depend on how long the run takes.
        pressurePeriodMs: 0,
      });
      let pressure: "high" | "flip" = "high";
      try {
        let r = await runClient(shim, pressured.socketPath, cProgram("hammer"), ["4", "300", "2"]);
        expect(r.stdout).toBe("PASSED\n");
        // Routed to the socket from the attach on: no request came through a slot.
        expect(pressured.slots().served).toBe(0);
        pressure = "flip";
        r = await runClient(shim, pressured.socketPath, cProgram("hammer"), ["5", "1500", "2"]);
        expect(r.stdout).toBe("PASSED\n");
        expect(calls).toBeGreaterThan(1);
        expect(pressured.slots().served).toBeGreaterThan(0);
      } finally {
        await pressured.close();
      }
      expect(internalErrors).toEqual([]);
    });

    it(`every slot the shims attached was reached by ${kind}`, () => {
      const { attaches, mapped } = daemon.slots();
      expect(attaches).toBeGreaterThanOrEqual(4);
      expect(mapped).toBe(kind === "mapped" ? attaches : 0);
    });

    it("leaves nothing behind", async () => {
      for (let i = 0; i < 500 && daemon.connections() > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(daemon.slots().attached).toBe(0);
      expect(daemon.files.size).toBe(0);
      expect([...model.log.state.mm.processes.keys()]).toEqual([]);
      expect(internalErrors).toEqual([]);
    });
  },
);

/**
 * The daemon and the program on one CPU (both pinned with taskset, as the
 * kernel's wake-affine placement often leaves them on a loaded machine):
 * a poller that spins without yielding keeps the program from making its
 * next request until the window passes in vain, so each request needs a
 * WAKE; one that yields past POLL_YIELD_AFTER_MS lets the program run and
 * finds the request while polling.
 */
describe.skipIf(!HAS_CC || nodeApiIncludeDir() === undefined || !HAS_TASKSET)(
  "the poller on the program's CPU",
  { timeout: 120_000 },
  () => {
    const cpus = () =>
      execFileSync("taskset", ["-p", String(process.pid)], { encoding: "utf8" })
        .split(": ")[1]!
        .trim();
    let mask = "";
    beforeAll(() => {
      mask = cpus();
      execFileSync("taskset", ["-a", "-p", "-c", "0", String(process.pid)], { stdio: "ignore" });
    });
    afterAll(() => {
      execFileSync("taskset", ["-a", "-p", mask, String(process.pid)], { stdio: "ignore" });
    });

    const run = async (pollYield: boolean) => {
      const { daemon } = await modelDaemon({ cpuPressure: () => 0, pollYield });
      try {
        const r = await runClient(buildShim(), daemon.socketPath, "taskset", [
          "-c",
          "0",
          cProgram("option_loop"),
          "2000",
        ]);
        expect(r.stdout).toBe("PASSED\n");
        return daemon.slots();
      } finally {
        await daemon.close();
      }
    };

    it("without yielding, nearly every request comes by WAKE; yielding, nearly none does", async () => {
      const spinning = await run(false);
      const yielding = await run(true);
      expect(spinning.served).toBeGreaterThanOrEqual(2001);
      expect(yielding.served).toBeGreaterThanOrEqual(2001);
      expect(spinning.wakes).toBeGreaterThan(spinning.served / 2);
      expect(yielding.wakes).toBeLessThan(yielding.served / 10);
    });
  },
);
