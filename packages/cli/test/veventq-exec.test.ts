/**
 * A vEVENTQ's fd under `iommu-sim exec` (test/c/veventq.c): IOMMU_VEVENTQ_ALLOC
 * installs a real fd in the program, which polls, reads the selftest mock's
 * vEVENTs and the lost-events header, writes (EINVAL), and closes it so the
 * vEVENTQ can be destroyed. The program checks Linux's answers itself and
 * prints PASSED; here, the log it leaves.
 */
import { describe, expect, it } from "vitest";
import { runExec } from "../src/commands/exec";
import { cProgram, HAS_CC } from "./support";

describe.skipIf(!HAS_CC)("iommu-sim exec: vEVENTQ fds", { timeout: 60_000 }, () => {
  it("installs, polls, reads and closes a vEVENTQ fd", async () => {
    const r = await runExec({ program: cProgram("veventq"), stdio: "pipe" });
    expect(r.stdout).toBe("PASSED\n");
    expect(r.status).toBe(0);
    const types = r.model.log.records.map((x) => x.type);
    // Three reports (the third lost), one read of three records, the fd's release.
    expect(types.filter((t) => t === "iommufd.vevent.reported")).toHaveLength(2);
    expect(types.filter((t) => t === "iommufd.vevent.lost")).toHaveLength(1);
    const delivered = r.model.log.records.filter((x) => x.type === "iommufd.veventq.delivered");
    expect(delivered.map((x) => (x.data as { records: number }).records)).toEqual([3]);
    expect(types).toContain("iommufd.veventq.released");
  });
});
