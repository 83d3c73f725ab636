/**
 * Benchmarks of `iommu-sim exec` (issue #10).
 *
 * `cli.exec.ioctl`: ioctl round trips per second from a C program under
 * the daemon + preload shim. The figure is IOMMU_IOAS_MAP + UNMAP
 * pairs of 4 KiB (≥ 50,000 pairs/s, i.e. ≥ 100,000 ioctls/s); until the
 * IOAS ioctls exist it is measured with IOMMU_OPTION GET, which takes the
 * same path (size read, struct copy in, decide, copy out).
 * `cli.exec.roundtrip`: the same loop on a driver that answers at once,
 * i.e. what the transport costs without the model.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchCase } from "../../../bench/harness";
import type { DeviceDriver } from "../src/daemon/driver";
import { type Daemon, startDaemon } from "../src/daemon/server";
import { createModel } from "../src/model";
import { buildShim } from "../src/shim/build";

let dir = "";
let exe = "";
let shim = "";
let daemon: Daemon | undefined;

/** A driver whose ioctl answers 0 at once: what the transport alone costs. */
const nopDriver: DeviceDriver = {
  name: "bench-nop",
  paths: ["/dev/vfio/bench-nop"],
  open: () => ({ ioctl: () => 0, release() {} }),
};

/** Run ioctl_loop (COUNT round trips on PATH) and return its ioctls/s. */
function run(count: number, path = "/dev/iommu"): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, [String(count), path], {
      env: { ...process.env, LD_PRELOAD: shim, IOMMU_SIM_SOCKET: daemon!.socketPath },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0 ? resolve(Number(out.trim())) : reject(new Error(`ioctl_loop exited ${code}`)),
    );
  });
}

const cases: BenchCase[] = [
  {
    name: "cli.exec.ioctl",
    kind: "value",
    unit: "ioctls/s",
    target: { op: ">=", value: 100_000 },
    doc: "IOMMU_OPTION GET round trips/s from a C program through the shim and daemon (20,000 per sample)",
    samples: 5,
    async setup() {
      dir = mkdtempSync(join(tmpdir(), "iommu-sim-bench-"));
      exe = join(dir, "ioctl_loop");
      const src = fileURLToPath(new URL("./ioctl_loop.c", import.meta.url));
      execFileSync(process.env.CC || "cc", ["-O2", "-o", exe, src]);
      shim = buildShim();
      daemon = await startDaemon({
        socketPath: join(dir, "d.sock"),
        drivers: [...createModel().drivers, nopDriver],
      });
      await run(20_000); // warm the daemon's JIT, as a long-running daemon is
    },
    async teardown() {
      await daemon?.close();
      rmSync(dir, { recursive: true, force: true });
    },
    measure: () => run(20_000),
  },
  {
    name: "cli.exec.roundtrip",
    kind: "value",
    unit: "ioctls/s",
    doc: "ioctl round trips/s on a driver that answers at once: the shim + socket + daemon transport alone",
    samples: 5,
    setup: () => cases[0]!.setup!(),
    teardown: () => cases[0]!.teardown!(),
    measure: () => run(20_000, "/dev/vfio/bench-nop"),
  },
];

export default cases;
