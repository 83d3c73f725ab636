import { createConnection } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Daemon } from "../src/daemon/server";
import type { Model } from "../src/model";
import { buildShim, nodeApiIncludeDir } from "../src/shim/build";
import { cProgram, HAS_CC, modelDaemon, runClient } from "./support";

/** Send `bytes` on a fresh connection, half-close, and wait until the daemon closes it too. */
function sendAndClose(socketPath: string, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    const c = createConnection(socketPath);
    c.on("error", () => resolve());
    c.on("close", () => resolve());
    c.on("data", () => {});
    c.write(bytes);
    c.end();
  });
}

/** A frame header (protocol.ts) + body. */
function frame(type: number, tag: number, body: Uint8Array, length = 12 + body.length): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, length, true);
  dv.setUint16(4, type, true);
  dv.setUint32(8, tag, true);
  out.set(body, 12);
  return out;
}

/** Wait (polling) until `cond` holds; the daemon handles closes asynchronously. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe.skipIf(!HAS_CC)("daemon robustness", { timeout: 120_000 }, () => {
  let model: Model;
  let daemon: Daemon;
  let shim: string;
  let internalErrors: unknown[];

  beforeAll(async () => {
    shim = buildShim();
    ({ model, daemon, internalErrors } = await modelDaemon());
  });
  afterAll(() => daemon.close());

  async function stillServes(): Promise<void> {
    const r = await runClient(shim, daemon.socketPath, cProgram("basic"));
    expect(r.stdout).toBe("PASSED\n");
    await until(() => daemon.connections() === 0);
    expect(daemon.connections()).toBe(0);
    expect(daemon.files.size).toBe(0);
    expect(model.log.state.iommufd.contexts).toEqual({});
    // Every client exited: no mirror of a real process is left in the model.
    expect([...model.log.state.mm.processes.keys()]).toEqual([]);
    expect(internalErrors).toEqual([]);
  }

  it("random bytes and random frames before HELLO", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        await sendAndClose(daemon.socketPath, bytes);
      }),
      { numRuns: 150, seed: 1 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 0xffff }),
        fc.uint8Array({ maxLength: 80 }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        async (type, body, length) => {
          await sendAndClose(daemon.socketPath, frame(type, 1, body));
          await sendAndClose(daemon.socketPath, frame(type, 1, body, length));
        },
      ),
      { numRuns: 150, seed: 2 },
    );
    await stillServes();
  });

  it("HELLOs with wrong versions, pids and nonces are refused", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom(1, process.pid, 0x7fff_ffff, 0),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        async (version, pid, va) => {
          const body = new Uint8Array(40);
          const dv = new DataView(body.buffer);
          dv.setUint32(0, version, true);
          dv.setUint32(4, pid, true);
          dv.setBigUint64(8, va, true);
          body.fill(0xa5, 16, 32);
          await sendAndClose(daemon.socketPath, frame(1, 9, body));
        },
      ),
      { numRuns: 100, seed: 3 },
    );
    await stillServes();
  });

  it("random frames after HELLO from a C client get a reply each", async () => {
    for (const seed of [1, 2, 3]) {
      const r = await runClient("", daemon.socketPath, cProgram("fuzz_proto"), [String(seed), "1500"]);
      expect(r.stdout).toBe("PASSED\n");
    }
    await stillServes();
  });

  it("random ioctl traffic through the shim", async () => {
    for (const seed of [7, 8, 9]) {
      const r = await runClient(shim, daemon.socketPath, cProgram("fuzz_ioctl"), [String(seed), "2000"]);
      expect(r.stdout).toBe("PASSED\n");
      expect(r.status).toBe(0);
    }
    await stillServes();
  });

  it("SHM_ATTACH's checks, then random requests and garbage through a shared slot", async () => {
    const { attaches, mapped } = daemon.slots();
    for (const seed of [21, 22, 23]) {
      const r = await runClient("", daemon.socketPath, cProgram("fuzz_slot"), [String(seed), "25"]);
      expect(r.stdout).toBe("PASSED\n");
      expect(r.status).toBe(0);
    }
    await stillServes();
    expect(daemon.slots().attached).toBe(0);
    // Every other round's slot is sealed: mapped into the daemon (whose addon builds wherever Node's headers are).
    const slots = daemon.slots();
    expect(slots.attaches - attaches).toBeGreaterThanOrEqual(3 * 25);
    if (nodeApiIncludeDir() !== undefined) expect(slots.mapped - mapped).toBeGreaterThanOrEqual(3 * 12);
    expect(slots.attaches - attaches - (slots.mapped - mapped)).toBeGreaterThanOrEqual(3 * 12);
  });

  it("random DMA traffic on every node: maps of real memory, faults, VFIO groups, /dev/ioasid, forks", async () => {
    for (const seed of [11, 12, 13]) {
      const r = await runClient(shim, daemon.socketPath, cProgram("fuzz_dma"), [String(seed), "1500"]);
      expect(r.stdout).toBe("PASSED\n");
      expect(r.status).toBe(0);
    }
    await stillServes();
    expect(
      Object.keys(model.log.state.vfio.groups).filter(
        (g) => model.log.state.vfio.groups[Number(g)]?.fileOpen,
      ),
    ).toEqual([]);
  });
});
