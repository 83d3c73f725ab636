/**
 * The executable itself (src/bin.ts under tsx, as `pnpm iommu-sim`): exit
 * codes reach the shell, and a program finds no daemon without exec.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { buildShim } from "../src/shim/build";
import { cProgram, HAS_CC } from "./support";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const bin = fileURLToPath(new URL("../src/bin.ts", import.meta.url));
const tsx = `${root}node_modules/.bin/tsx`;

describe.skipIf(!HAS_CC)("bin", { timeout: 120_000 }, () => {
  it("exec returns the program's status; a usage error exits 2 with one line", () => {
    const ok = spawnSync(tsx, [bin, "exec", "--", cProgram("status"), "42"], { encoding: "utf8" });
    expect(ok.status).toBe(42);
    const bad = spawnSync(tsx, [bin, "exec", "--nope"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe("iommu-sim: exec: Unknown option '--nope'\n");
  });

  it("without a reachable daemon, served opens fail with EIO and one message", () => {
    const r = spawnSync(cProgram("status"), ["0"], {
      encoding: "utf8",
      env: { ...process.env, LD_PRELOAD: buildShim(), IOMMU_SIM_SOCKET: "/nonexistent/sock" },
    });
    expect(r.status).toBe(100); // status.c: open("/dev/iommu") failed
    expect(r.stderr).toBe(
      "iommu-sim: cannot reach the daemon at /nonexistent/sock: No such file or directory\n",
    );
  });
});
