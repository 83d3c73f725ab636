/**
 * `iommu-sim exec` end to end: C programs of test/c/ run with /dev/iommu
 * served by the model through the preload shim. Each program checks Linux's
 * answers itself (errno values from include/uapi/asm-generic/errno*.h and
 * Linux's selftest tools/testing/selftests/iommu/iommufd.c) and prints
 * PASSED, or FAIL lines naming the check.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readLog, textSource, Vocabulary } from "@iommu-sim/eventlog";
import { VOCABULARY } from "@iommu-sim/uapi";
import { describe, expect, it } from "vitest";
import { runExec } from "../src/commands/exec";
import { startServe } from "../src/commands/serve";
import { cProgram, HAS_CC, runClient } from "./support";

/** Every session's log starts by adding the default platform's IOMMU units (one VT-d, one SMMUv3). */
const UNITS = ["vtd.unit.add", "vtd.unit.added", "smmu.instance.add", "smmu.instance.added"];

describe.skipIf(!HAS_CC)("iommu-sim exec", { timeout: 60_000 }, () => {
  it("serves /dev/iommu: ENOENT, EFAULT, ENOTTY, the size rules, missing nodes, paths, close", async () => {
    const r = await runExec({ program: cProgram("basic"), stdio: "pipe" });
    expect(r.stdout).toBe("PASSED\n");
    expect(r.status).toBe(0);
  });

  it("device DMA meets the program's memory: stores reach access reads, access writes reach the buffer, shared memory of a gone child", async () => {
    const r = await runExec({ program: cProgram("dma"), stdio: "pipe" });
    expect(r.stdout).toBe("PASSED\n");
    expect(r.status).toBe(0);
    // The program's stores were recorded for the model as mm.write (what a replay needs).
    expect(r.model.log.records.some((x) => x.type === "mm.write")).toBe(true);
    expect([...r.model.log.state.mm.processes.keys()]).toEqual([]);
  });

  it("IOMMU_IOAS_MAP_FILE of the program's memfd: MD_CHECK_MAP/_REFS, bytes both ways, EBADF/EINVAL", async () => {
    const r = await runExec({ program: cProgram("map_file"), stdio: "pipe" });
    expect(r.stdout).toBe("PASSED\n");
    expect(r.status).toBe(0);
    // The memfd became one model file object, which the program's mapping of it shares.
    const files = r.model.log.records.filter((x) => x.type === "mm.file.create");
    expect(files.length).toBeGreaterThanOrEqual(1);
    expect(r.model.log.records.some((x) => x.type === "ioas.map_file")).toBe(true);
  });

  it("VFIO cdev: BIND_IOMMUFD resolves the iommufd fd in the program's fd table (EBADFD, EBADF), attach, group busy", async () => {
    const r = await runExec({ program: cProgram("vfio_cdev"), stdio: "pipe" });
    expect(r.stdout).toBe("PASSED\n");
    expect(r.status).toBe(0);
    // Closing the device file unbound it; the context closed with its fds.
    expect(r.model.log.state.vfio.files).toEqual({});
    expect(r.model.log.state.iommufd.contexts).toEqual({});
  });

  it("IOMMU_OPTION RLIMIT_MODE get/set as Linux's global_options test", async () => {
    const r = await runExec({ program: cProgram("options"), stdio: "pipe" });
    expect(r.stdout).toBe("PASSED\n");
    expect(r.status).toBe(0);
  });

  it("serves /dev/vfio/vfio: the VFIO type1 container on iommufd, and VFIO ioctls on /dev/iommu", async () => {
    const r = await runExec({ program: cProgram("container"), stdio: "pipe" });
    expect(r.stdout).toBe("PASSED\n");
    expect(r.status).toBe(0);
    expect(r.model.log.state.iommufd.contexts).toEqual({});
  });

  it("dup, dup2, dup3, F_DUPFD and fork share a context; it lives until the last fd anywhere closes", async () => {
    const r = await runExec({ program: cProgram("share"), stdio: "pipe" });
    expect(r.stdout).toBe("PASSED\n");
    expect(r.status).toBe(0);
    // Every context was closed when the processes exited: the model holds none.
    expect(r.model.log.state.iommufd.contexts).toEqual({});
  });

  it("threads of one process share its connection; each gets its own answers", async () => {
    const r = await runExec({ program: cProgram("threads"), stdio: "pipe" });
    expect(r.stdout).toBe("PASSED\n");
    expect(r.model.log.state.iommufd.contexts).toEqual({});
  });

  it("propagates the program's exit status, and 128 + signal for a signal", async () => {
    const exe = cProgram("status");
    expect((await runExec({ program: exe, args: ["42"], stdio: "pipe" })).status).toBe(42);
    expect((await runExec({ program: exe, args: ["0"], stdio: "pipe" })).status).toBe(0);
    expect((await runExec({ program: exe, args: ["kill"], stdio: "pipe" })).status).toBe(128 + 9);
  });

  it("a context is closed when its process exits without closing it", async () => {
    const r = await runExec({ program: cProgram("status"), args: ["7"], stdio: "pipe" });
    const types = r.model.log.records.map((x) => x.type);
    expect(types).toEqual([...UNITS, "iommufd.open", "iommufd.opened", "iommufd.close", "iommufd.closed"]);
  });

  it("--log writes JSON Lines that validate against the vocabulary", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iommu-sim-log-"));
    const logPath = join(dir, "session.jsonl");
    await runExec({ program: cProgram("options"), stdio: "pipe", logPath });
    const text = readFileSync(logPath, "utf8");
    const opened = await readLog(textSource(text), { vocabulary: new Vocabulary(VOCABULARY), file: logPath });
    expect(opened.header.kind).toBe("iommu-sim/log");
    const records = [];
    for await (const b of opened.batches) records.push(...b);
    // the platform's IOMMU units; open; SET 1; SET 2 fails (no record); SET 0; close — as global_options does.
    expect(records.map((x) => x.type)).toEqual([
      ...UNITS,
      "iommufd.open",
      "iommufd.opened",
      "iommufd.option.set",
      "iommufd.accountMode.set",
      "iommufd.option.set",
      "iommufd.accountMode.set",
      "iommufd.close",
      "iommufd.closed",
    ]);
  });

  it("programs sharing one daemon (serve) are isolated from each other", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iommu-sim-serve-"));
    const s = await startServe({ socketPath: join(dir, "s.sock") });
    try {
      const exe = cProgram("isolate");
      const runs = await Promise.all(
        ["1", "0", "1", "0"].map((v) => runClient(s.shim, s.daemon.socketPath, exe, [v])),
      );
      for (const r of runs) expect(r.stdout).toBe("PASSED\n");
      // The daemon sees each client's disconnect asynchronously.
      for (let i = 0; i < 500 && s.daemon.connections() > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(s.model.log.state.iommufd.contexts).toEqual({});
      expect(s.daemon.files.size).toBe(0);
    } finally {
      await s.stop();
    }
  });
});
