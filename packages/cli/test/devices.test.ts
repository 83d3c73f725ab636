/**
 * The driver interface end to end: a test driver registered for
 * /dev/vfio/test-queue serves read, write, poll and integer-argument
 * ioctls to a C program, which checks the kernel-style answers
 * (test/c/queue.c). Also: an errno from the model's decide fails open(2)
 * (fault injection on iommufd.open → ENOMEM, as iommufd_fops_open's
 * allocation failing).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errno, isErrno } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { type Caller, type DeviceDriver, type OpenFile, POLLIN, POLLOUT } from "../src/daemon/driver";
import { startDaemon } from "../src/daemon/server";
import { createModel } from "../src/model";
import { buildShim } from "../src/shim/build";
import { cProgram, HAS_CC, runClient } from "./support";

/** Files of the queue driver released so far (ioctl 0x9abc answers it). */
let released = 0;

/**
 * A byte queue: write appends, read takes, poll says POLLIN while bytes
 * wait. ioctl 0x1234 answers its integer argument + 1; 0x5678 installs a
 * new queue file in the caller and writes its fd to the int at `arg`, as
 * IOMMU_FAULT_QUEUE_ALLOC hands out a fault fd; 0x9abc answers `released`;
 * 0xdef0 answers 1 when fd `arg` of the caller is a queue file (fileAt).
 */
class QueueFile implements OpenFile {
  private bytes: number[] = [];
  ioctl(c: Caller, request: number, arg: bigint): number {
    if (request === 0x1234) return Number(arg) + 1;
    if (request === 0x9abc) return released;
    if (request === 0xdef0) return c.fileAt?.(Number(arg)) instanceof QueueFile ? 1 : 0;
    if (request !== 0x5678 || c.installFile === undefined) return -25;
    const fd = c.installFile(new QueueFile(), "anon_inode:[test-queue]");
    if (fd < 0) return fd;
    const e = c.memory.write(arg, Uint8Array.of(fd & 0xff, (fd >> 8) & 0xff, 0, 0));
    return e === undefined ? 0 : e.ret;
  }
  read(c: Caller, buf: bigint, count: number): number {
    if (this.bytes.length === 0) return -11; // EAGAIN
    const n = Math.min(count, this.bytes.length);
    const e = c.memory.write(buf, Uint8Array.from(this.bytes.slice(0, n)));
    if (e !== undefined) return e.ret;
    this.bytes = this.bytes.slice(n);
    return n;
  }
  write(c: Caller, buf: bigint, count: number): number {
    const b = c.memory.read(buf, count);
    if (isErrno(b)) return b.ret;
    this.bytes.push(...b);
    return count;
  }
  poll(events: number): number {
    return ((this.bytes.length > 0 ? POLLIN : 0) | POLLOUT) & events;
  }
  release(): void {
    released++;
  }
}

const queueDriver: DeviceDriver = {
  name: "test-queue",
  paths: ["/dev/vfio/test-queue"],
  open: (path) => (path === "/dev/vfio/test-queue" ? new QueueFile() : errno("ENOENT")),
};

async function withDaemon(
  drivers: readonly DeviceDriver[],
  f: (socket: string) => Promise<void>,
): Promise<void> {
  const d = await startDaemon({
    socketPath: join(mkdtempSync(join(tmpdir(), "iommu-sim-dev-")), "d.sock"),
    drivers,
  });
  try {
    await f(d.socketPath);
  } finally {
    await d.close();
  }
}

describe.skipIf(!HAS_CC)("device drivers", { timeout: 60_000 }, () => {
  it("read, write, poll and integer ioctls reach the driver", async () => {
    await withDaemon([queueDriver], async (socket) => {
      const r = await runClient(buildShim(), socket, cProgram("queue"));
      expect(r.stdout).toBe("PASSED\n");
    });
  });

  it("an ioctl installs a new fd: lowest free number, close-on-exec, served, released on its last close", async () => {
    await withDaemon([queueDriver], async (socket) => {
      released = 0;
      const r = await runClient(buildShim(), socket, cProgram("install"));
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe("PASSED\n");
    });
  });

  it("an errno decided by the model fails open(2) with it", async () => {
    const model = createModel();
    await withDaemon(model.drivers, async (socket) => {
      model.log.failNth(1); // the next command's first fallible step: iommufd.ctx_alloc
      const r = await runClient(buildShim(), socket, cProgram("openfail"));
      expect(r.stdout).toBe("PASSED\n");
    });
  });
});
