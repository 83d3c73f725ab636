/**
 * The command line: usage errors are one line and exit code 2; replay,
 * rerun and inspect over hand-written logs (golden records, written out
 * here, not produced by the code under test).
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../src/cli";

let stdout = "";
let stderr = "";
beforeEach(() => {
  stdout = "";
  stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((s) => {
    stdout += String(s);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((s) => {
    stderr += String(s);
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

const dir = mkdtempSync(join(tmpdir(), "iommu-sim-cli-"));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const HEADER = '{"kind":"iommu-sim/log","version":1}';
/** Two opens, an RLIMIT_MODE change on the first, then its close. */
const SESSION = [
  HEADER,
  '{"seq":1,"type":"iommufd.open","data":{"pid":100,"vfio":false}}',
  '{"seq":2,"type":"iommufd.opened","data":{"ctx":1,"pid":100,"accountMode":"user"}}',
  '{"seq":3,"type":"iommufd.open","data":{"pid":101,"vfio":true}}',
  '{"seq":4,"type":"iommufd.opened","data":{"ctx":2,"pid":101,"accountMode":"mm"}}',
  '{"seq":5,"type":"iommufd.option.set","data":{"ctx":1,"option":0,"objectId":0,"value":"0x1"}}',
  '{"seq":6,"type":"iommufd.accountMode.set","data":{"ctx":1,"accountMode":"mm"}}',
  '{"seq":7,"type":"iommufd.close","data":{"ctx":1}}',
  '{"seq":8,"type":"iommufd.closed","data":{"ctx":1}}',
].join("\n");

describe("usage errors: one line on stderr, exit code 2", () => {
  it.each([
    [["frob"], "iommu-sim: unknown command 'frob' (see iommu-sim --help)\n"],
    [["replay", "--bogus", "x"], "iommu-sim: replay: Unknown option '--bogus'\n"],
    [["replay"], "iommu-sim: replay: missing LOG\n"],
    [["replay", "a", "b"], "iommu-sim: replay: unexpected argument 'b'\n"],
    [["exec", "--", "/nonexistent/program"], "iommu-sim: /nonexistent/program: cannot run: ENOENT\n"],
    [["exec", "--frob", "--", "true"], "iommu-sim: exec: Unknown option '--frob'\n"],
    [["exec"], "iommu-sim: exec: missing -- PROGRAM [ARGS...]\n"],
    [["serve"], "iommu-sim: serve: --socket PATH is required\n"],
    [["inspect", "x.jsonl", "--at=-1"], "iommu-sim: inspect: --at: '-1' is not a sequence number\n"],
  ])("%j", async (argv, message) => {
    expect(await main(argv)).toBe(2);
    expect(stderr).toBe(message);
  });

  it("serve refuses a socket path that names something else, and leaves it alone", async () => {
    const f = file("not-a-socket", "precious");
    expect(await main(["serve", "--socket", f])).toBe(2);
    expect(stderr).toBe(`iommu-sim: ${f}: exists and is not a socket\n`);
    expect(readFileSync(f, "utf8")).toBe("precious");
  });

  it("an unwritable --log names the file", async () => {
    const log = join(dir, "no", "such", "dir.jsonl");
    expect(await main(["exec", "--log", log, "--", "true"])).toBe(2);
    expect(stderr).toBe(`iommu-sim: ${log}: cannot write the log: ENOENT\n`);
  });

  it("a missing log names the file", async () => {
    expect(await main(["replay", join(dir, "none.jsonl")])).toBe(2);
    expect(stderr).toBe(`iommu-sim: ${join(dir, "none.jsonl")}: cannot read: ENOENT\n`);
  });

  it("a log line that fails validation names file, line and field", async () => {
    const bad = file(
      "bad.jsonl",
      `${HEADER}\n{"seq":1,"type":"iommufd.open","data":{"pid":100,"vfio":false}}\n{"seq":2,"type":"iommufd.opened","data":{"ctx":1,"pid":"x","accountMode":"user"}}\n`,
    );
    expect(await main(["replay", bad])).toBe(2);
    expect(stderr).toMatch(new RegExp(`^iommu-sim: ${bad}:3: data\\.pid: .+\\n$`));
  });

  it("a malformed platform names the file and field", async () => {
    const p = file("p.json", JSON.stringify({ memoryBytes: "0x1000", iommus: [], devices: [] }));
    expect(await main(["exec", "--platform", p, "--", "true"])).toBe(2);
    expect(stderr).toMatch(new RegExp(`^iommu-sim: ${p}: iommus: .+\\n$`));
  });

  it.each([
    ['{\n  "memoryBytes": "0x1000",\n  "iommus": [\n}', 4, "unexpected '}'"],
    ['{\n  "memoryBytes": "0x1000",\n}', 3, "Expected double-quoted property name"],
    ['{\n  "memoryBytes": ', 2, "unexpected end of input"],
  ])("a platform that is not JSON names the line: %j", async (text, line, reason) => {
    const q = file("q.json", text);
    expect(await main(["exec", "--platform", q, "--", "true"])).toBe(2);
    expect(stderr).toBe(`iommu-sim: ${q}:${line}: not JSON (${reason})\n`);
  });

  it("a log whose header names an invalid platform", async () => {
    const bad = file(
      "hp.jsonl",
      '{"kind":"iommu-sim/log","version":1,"platform":{"memoryBytes":"0x1001","iommus":[{"name":"m","kind":"mock"}],"devices":[]}}\n',
    );
    expect(await main(["replay", bad])).toBe(2);
    expect(stderr).toBe(`iommu-sim: ${bad}:1: platform.memoryBytes: must be a non-zero multiple of 4096\n`);
  });
});

describe("replay", () => {
  it("prints the state at the end and at --to", async () => {
    const log = file("s.jsonl", SESSION);
    expect(await main(["replay", log, "--json"])).toBe(0);
    const end = JSON.parse(stdout);
    expect(end.seq).toBe(8);
    expect(end.summary.iommufd).toEqual({
      contexts: 1,
      objects: {},
      perContext: [{ ctx: 2, pid: 101, node: "/dev/vfio/vfio", accountMode: "mm", objects: [] }],
    });
    stdout = "";
    expect(await main(["replay", log, "--to", "6"])).toBe(0);
    expect(stdout).toContain("replayed to seq 6\n");
    expect(stdout).toContain("iommufd: 2 context(s); objects: none\n");
    expect(stdout).toContain("  context 1: pid 100, /dev/iommu, accounting per mm\n");
    expect(stdout).toContain("  context 2: pid 101, /dev/vfio/vfio, accounting per mm\n");
  });

  it("equal states give equal hashes whatever path reached them", async () => {
    // Opening ctx 1 and 2 then closing 1, versus the same with the option set first: same state.
    const other = file(
      "o.jsonl",
      [
        HEADER,
        '{"seq":1,"type":"iommufd.open","data":{"pid":100,"vfio":false}}',
        '{"seq":2,"type":"iommufd.opened","data":{"ctx":1,"pid":100,"accountMode":"user"}}',
        '{"seq":3,"type":"iommufd.open","data":{"pid":101,"vfio":true}}',
        '{"seq":4,"type":"iommufd.opened","data":{"ctx":2,"pid":101,"accountMode":"mm"}}',
        '{"seq":5,"type":"iommufd.close","data":{"ctx":1}}',
        '{"seq":6,"type":"iommufd.closed","data":{"ctx":1}}',
      ].join("\n"),
    );
    await main(["replay", file("s2.jsonl", SESSION), "--json"]);
    const a = JSON.parse(stdout).hash;
    stdout = "";
    await main(["replay", other, "--json"]);
    expect(JSON.parse(stdout).hash).toBe(a);
  });

  it("--to beyond the end is an error", async () => {
    expect(await main(["replay", file("s3.jsonl", SESSION), "--to", "9"])).toBe(2);
    expect(stderr).toContain("--to 9: the log ends at seq 8\n");
  });
});

describe("rerun", () => {
  it("reports no divergence for a log the current code would write", async () => {
    expect(await main(["rerun", file("r.jsonl", SESSION)])).toBe(0);
    expect(stdout).toContain(": 4 command(s) re-decided, no divergence\n");
  });

  it("reports the first event that differs, with its seq", async () => {
    const changed = SESSION.replace('"accountMode":"mm"}}\n{"seq":7', '"accountMode":"user"}}\n{"seq":7');
    expect(await main(["rerun", file("r2.jsonl", changed), "--json"])).toBe(1);
    const r = JSON.parse(stdout);
    expect(r.divergence.seq).toBe(5);
    expect(r.divergence.at).toBe(6);
    expect(r.divergence.command).toBe("iommufd.option.set");
  });

  it("reports a command that now fails", async () => {
    // Closing a context that was never opened: EBADF now.
    const log = file(
      "r3.jsonl",
      [
        HEADER,
        '{"seq":1,"type":"iommufd.close","data":{"ctx":9}}',
        '{"seq":2,"type":"iommufd.closed","data":{"ctx":9}}',
      ].join("\n"),
    );
    expect(await main(["rerun", log])).toBe(1);
    expect(stdout).toContain("diverges at seq 1 (command iommufd.close at seq 1)\n");
    expect(stdout).toContain("now fails: EBADF");
  });
});

describe("inspect", () => {
  it("the object graph at a seq", async () => {
    expect(await main(["inspect", file("i.jsonl", SESSION), "--at", "4", "--json"])).toBe(0);
    const r = JSON.parse(stdout);
    expect(r.seq).toBe(4);
    expect(r.summary.iommufd.perContext.map((c: { ctx: number }) => c.ctx)).toEqual([1, 2]);
  });

  it("--object names a missing object", async () => {
    expect(await main(["inspect", file("i2.jsonl", SESSION), "--object", "1:3"])).toBe(2);
    expect(stderr).toContain("--object 1:3: no such object at seq 8\n");
    expect(await main(["inspect", file("i3.jsonl", SESSION), "--object", "x"])).toBe(2);
    expect(stderr).toContain("inspect: --object: 'x' is not ID or CTX:ID\n");
  });
});
