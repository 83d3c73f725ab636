/**
 * The daemon's slot-mapping addon (native/iommu_sim_slot_map.c through
 * src/daemon/slot-map.ts): it maps only a memfd sealed against shrinking
 * (fcntl(2) F_SEAL_SHRINK) of at least the size asked, and the mapping is
 * the program's memory — a store on either side is seen by the other.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, rmSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { SLOT } from "../src/daemon/slot";
import { slotIo } from "../src/daemon/slot-io";
import { slotMapper } from "../src/daemon/slot-map";
import { nodeApiIncludeDir } from "../src/shim/build";
import { cProgram, HAS_CC } from "./support";

/** Linux asm-generic/errno-base.h. */
const EPERM = 1;
const EINVAL = 22;

describe.skipIf(!HAS_CC || nodeApiIncludeDir() === undefined)("mapping a slot (slot-map.ts)", () => {
  it("maps a sealed memfd both ways, and refuses an unsealed one (EPERM), a small one (EINVAL) and a regular file (EPERM)", async () => {
    const mapSlot = slotMapper();
    expect(mapSlot).toBeTypeOf("function");
    const child = spawn(cProgram("memfds"), [], { stdio: ["pipe", "pipe", "inherit"] });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const next = async () => (await lines.next()).value as string;
    try {
      const [pid, sealed, unsealed, small] = (await next()).split(" ").map(Number) as [
        number,
        number,
        number,
        number,
      ];
      const open = (fd: number) => openSync(`/proc/${pid}/fd/${fd}`, "r+");
      const fds = [open(sealed), open(unsealed), open(small)] as const;
      try {
        const buffer = mapSlot!(fds[0], SLOT.SIZE);
        expect(buffer).toBeInstanceOf(ArrayBuffer);
        const bytes = new Uint8Array(buffer as ArrayBuffer);
        expect(bytes.length).toBe(SLOT.SIZE);
        // The program's bytes (i % 251), at both ends of the slot.
        expect([bytes[0], bytes[250], bytes[251], bytes[SLOT.SIZE - 1]]).toEqual([
          0,
          250,
          0,
          (SLOT.SIZE - 1) % 251,
        ]);
        // The daemon's store, read back by the program through its own mapping.
        Atomics.store(bytes, 8264, 0xa5);
        child.stdin!.write("8264\n");
        expect(await next()).toBe(String(0xa5));
        expect(mapSlot!(fds[1], SLOT.SIZE)).toBe(EPERM);
        expect(mapSlot!(fds[2], SLOT.SIZE)).toBe(EINVAL);
      } finally {
        for (const fd of fds) closeSync(fd);
      }
      const file = `${process.env.TMPDIR ?? "/tmp"}/iommu-sim-slot-map-${process.pid}`;
      writeFileSync(file, new Uint8Array(SLOT.SIZE));
      const regular = openSync(file, "r+");
      try {
        expect(mapSlot!(regular, SLOT.SIZE)).toBe(EPERM);
        // slotIo falls back to pread/pwrite on what it cannot map (and closes the fd with the io).
        const io = slotIo(regular);
        expect(io.kind).toBe("pread");
        io.storeWord(SLOT.POLLING, 7);
        const word = new Uint8Array(4);
        expect(io.read(word, 0, 4, SLOT.POLLING)).toBe(4);
        expect([...word]).toEqual([7, 0, 0, 0]);
        io.close();
      } finally {
        rmSync(file);
      }
    } finally {
      child.stdin!.end();
      await new Promise((r) => child.once("close", r));
    }
    expect(child.exitCode).toBe(0);
  });
});
