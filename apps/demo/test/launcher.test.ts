/** `pnpm --filter @iommu-sim/demo run web`: argument parsing and the served default log. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseWebArgs, startWeb } from "../src/web";

describe("demo web arguments", () => {
  it("takes an optional log file and --port", () => {
    expect(parseWebArgs([])).toEqual({});
    expect(parseWebArgs(["run.jsonl.gz"])).toEqual({ log: "run.jsonl.gz" });
    expect(parseWebArgs(["--port", "8080", "a.jsonl"])).toEqual({ log: "a.jsonl", port: 8080 });
  });

  it("refuses what it does not understand", () => {
    expect(parseWebArgs(["--port", "65536"])).toBe("--port: not a TCP port: 65536");
    expect(parseWebArgs(["--port"])).toBe("--port: not a TCP port: undefined");
    expect(parseWebArgs(["--open"])).toBe("unknown option --open");
    expect(parseWebArgs(["a.jsonl", "b.jsonl"])).toBe("one log file at most (got a.jsonl and b.jsonl)");
  });
});

describe("demo web server", () => {
  const saved = process.env.IOMMU_SIM_LOG;
  const dir = mkdtempSync(join(tmpdir(), "iommu-sim-web-"));
  afterEach(() => {
    if (saved === undefined) delete process.env.IOMMU_SIM_LOG;
    else process.env.IOMMU_SIM_LOG = saved;
  });

  it("serves the given log file as /demo.jsonl, byte for byte, and 404 when it is missing", async () => {
    const file = join(dir, "given.jsonl");
    const text = '{"kind":"iommu-sim/log","version":1}\n';
    writeFileSync(file, text);
    const server = await startWeb({ log: file, port: 0 });
    try {
      const addr = server.httpServer?.address();
      if (addr === null || addr === undefined || typeof addr === "string") throw new Error("no address");
      const url = `http://127.0.0.1:${addr.port}/demo.jsonl`;
      expect(await (await fetch(url)).text()).toBe(text);
      rmSync(file);
      const gone = await fetch(url);
      expect(gone.status).toBe(404);
      expect(await gone.text()).toContain("ENOENT");
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
