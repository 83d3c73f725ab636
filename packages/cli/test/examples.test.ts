/**
 * The C examples at the repository root (examples/*.c) under
 * `iommu-sim exec`: each prints what it did, one line per step, and exits 0;
 * the expected lines are what Linux answers for the same calls (IOVAs from
 * the selftest mock domain's aperture, MOCK_APERTURE_START = 1 << 24 in
 * drivers/iommu/iommufd/iommufd_test.h; the /dev/ioasid RFC's lowest-free
 * PASID allocation and 31-bit ioasid_bits; iommufd's sequential object ids
 * and the lowest free fd for an ioctl's new fd, get_unused_fd_flags()).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stateHash } from "@iommu-sim/eventlog";
import { describe, expect, it } from "vitest";
import { runExec } from "../src/commands/exec";
import { replayLog } from "../src/logs/replay";
import { exampleProgram, HAS_CC } from "./support";

describe.skipIf(!HAS_CC)("examples", { timeout: 60_000 }, () => {
  it("ioas-map: map the program's own buffer for a mock device, check the IO page table and the pins, copy, unmap", async () => {
    const r = await runExec({ program: exampleProgram("ioas-map"), stdio: "pipe" });
    expect(r.stderr).toBe("");
    expect(r.stdout.split("\n")).toEqual([
      "ioas 1 allocated",
      "mock device attached: hwpt 4",
      // The lowest IOVA of the mock aperture, 64 KiB aligned like the buffer.
      "mapped 64 KiB at iova 0x1000000",
      "device maps the buffer's pages, each pinned once",
      "copied into ioas 5 at iova 0x1000000, still one pin per page",
      "unmapped 65536 + 65536 bytes, no pins left",
      "",
    ]);
    expect(r.status).toBe(0);
    // The model pinned the program's pages: the mirror of its memory is in the log, then it exited.
    const types = r.model.log.records.map((x) => x.type);
    expect(types).toContain("mm.spawn");
    expect(types).toContain("mm.mmap");
    expect(types.at(-2)).toBe("mm.exit");
  });

  it("a session that pinned real memory replays, without the process, to the same state", async () => {
    const logPath = join(mkdtempSync(join(tmpdir(), "iommu-sim-log-")), "ioas-map.jsonl");
    const r = await runExec({ program: exampleProgram("ioas-map"), stdio: "pipe", logPath });
    expect(r.status).toBe(0);
    const replayed = await replayLog(logPath);
    expect(replayed.seq).toBe(r.model.log.seq);
    expect(replayed.hash).toBe(stateHash(r.model.log.state));
  });

  it("ioasid: version, width, lowest-free PASIDs, free and reuse, EINVAL for a reversed range", async () => {
    const r = await runExec({ program: exampleProgram("ioasid"), stdio: "pipe" });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(
      [
        "api version 0",
        "ioasid_bits 31",
        "allocated 1 2 3",
        "freed 2, allocated 2 again",
        "range [50, 10]: Invalid argument",
        "",
      ].join("\n"),
    );
    expect(r.status).toBe(0);
    // Closing /dev/ioasid freed what the process still held.
    expect(Object.keys(r.model.log.state.ioasid.files)).toEqual([]);
  });

  it("vfio-container: container, group 1, type1v2, map/unmap of the program's memory, the device fd", async () => {
    const r = await runExec({ program: exampleProgram("vfio-container"), stdio: "pipe" });
    expect(r.stderr).toBe("");
    expect(r.stdout.split("\n")).toEqual([
      "api version 0, type1v2 supported",
      "group 1 viable",
      // The AND of the compat IOAS's domains' page sizes (iommufd_vfio_iommu_get_info). The model
      // attaches group 1's device (nic0, VT-d) at SET_CONTAINER (vfio-compat's documented deviation:
      // Linux attaches at GET_DEVICE_FD and would answer 0xfffffffffffff000 here); its VT-d second-stage
      // domain maps 4 KiB, 2 MiB and 1 GiB pages (CAP.SLLPS = 0b11).
      "iova_pgsizes 0x40201000",
      "mapped 1 MiB at iova 0x10000000",
      "device 0000:00:02.0: PCI",
      "unmapped 1048576 bytes",
      "",
    ]);
    expect(r.status).toBe(0);
    // Closing the fds released the group, the device and the container.
    expect(r.model.log.state.vfio.groups[1]?.fileOpen ?? false).toBe(false);
    expect(r.model.log.state.iommufd.contexts).toEqual({});
  });

  it("fault: a fault queue's fd is a real fd; the IOPF is polled, read and answered through it", async () => {
    const r = await runExec({ program: exampleProgram("fault"), stdio: "pipe" });
    expect(r.stderr).toBe("");
    expect(r.stdout.split("\n")).toEqual([
      // Objects: IOAS 1, mock device 2 + idev 3 + its HWPT 4, parent HWPT 5, then the queue; fds 0–2 are stdio, 3 /dev/iommu.
      "fault queue 6 on fd 4",
      "device 3 attached to nested hwpt 7",
      "before the fault: 0 ready",
      "after the fault: 1 ready, revents 0x1",
      // struct iommu_hwpt_pgfault is 40 bytes; the mock's group is one page: LAST_PAGE.
      "read 40 bytes: dev 3 pasid 0 grpid 2 perm 0x3 addr 0xdeadbeaf last yes",
      "responded; 0 ready",
      "",
    ]);
    expect(r.status).toBe(0);
  });
});
