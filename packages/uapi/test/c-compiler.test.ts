/**
 * Check the layouts, ioctl numbers and errno values against a real C
 * compiler and the system's kernel headers (/usr/include/linux/vfio.h,
 * /usr/include/asm-generic/errno*.h, asm-generic/ioctl.h).
 *
 * Two checks:
 * 1. Real headers: every VFIO struct the system vfio.h defines (it may be
 *    older than v6.17; members it lacks are skipped) and every VFIO_* number
 *    and flag it #defines; every errno; the _IO* macros.
 * 2. The layout engine: every exported layout is re-declared in C from its
 *    TypeScript spec and gcc's sizeof/offsetof must match the engine's. (The
 *    iommufd numbers themselves are checked against Linux's header by hand in
 *    golden.ts: the system headers have no iommufd.h.)
 *
 * Skipped, with a message, when no C compiler is installed.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as uapi from "../src/index";
import { _IOR, _IOW, _IOWR, type AnyLayout, ERRNO, type FieldType, Layout, VFIO_IOCTL } from "../src/index";
import { ALL_LAYOUTS } from "./layouts";

const CC = ["cc", "gcc", "clang"].find((c) => spawnSync(c, ["--version"], { stdio: "ignore" }).status === 0);
const VFIO_H = "/usr/include/linux/vfio.h";
const HAVE_VFIO_H = existsSync(VFIO_H);

if (CC === undefined) {
  console.warn("c-compiler.test.ts: no C compiler (cc/gcc/clang) found — skipping the C ABI checks");
}

const VFIO_LAYOUTS = ALL_LAYOUTS.filter((l) => l.source.startsWith("include/uapi/linux/vfio.h"));

/** Members of `struct name` in the system header, or undefined if it lacks the struct. */
function headerMembers(header: string, name: string): Set<string> | undefined {
  const m = new RegExp(`struct\\s+${name}\\s*\\{([\\s\\S]*?)\\n\\};`).exec(header);
  if (m === null) return undefined;
  const body = (m[1] ?? "").replace(/\/\*[\s\S]*?\*\//g, "").replace(/^#.*$/gm, "");
  const names = new Set<string>();
  for (const decl of body.split(";")) {
    const id = /([A-Za-z_]\w*)\s*(\[[^\]]*\])?\s*$/.exec(decl.trim());
    if (id?.[1] !== undefined) names.add(id[1]);
  }
  return names;
}

function cIdent(name: string): string {
  return `sim_${name.replace(/\./g, "__")}`;
}

const C_SCALAR: Record<string, string> = {
  u8: "__u8",
  u16: "__u16",
  u32: "__u32",
  s32: "__s32",
  u64: "__u64 __attribute__((aligned(8)))",
  s64: "__s64 __attribute__((aligned(8)))",
};

/** C declarations for `layout` and everything it nests, in dependency order. */
function emitC(layout: AnyLayout, done: Set<string>, out: string[]): void {
  if (done.has(layout.name)) return;
  const decl = (name: string, t: FieldType): string => {
    if (typeof t === "string") return `${C_SCALAR[t]} ${name};`;
    if (t instanceof Layout) {
      emitC(t, done, out);
      return `${t.kind} ${cIdent(t.name)} ${name};`;
    }
    const e = t.elem;
    if (typeof e === "string")
      return `${C_SCALAR[e]?.replace(" __attribute__((aligned(8)))", "")} ${name}[${t.length}] ${e.endsWith("64") ? "__attribute__((aligned(8)))" : ""};`;
    emitC(e, done, out);
    return `${e.kind} ${cIdent(e.name)} ${name}[${t.length}];`;
  };
  const lines: string[] = [];
  if (layout.kind === "union") {
    for (const f of layout.fields) lines.push(`  ${decl(f.name, f.spec)}`);
  } else {
    let i = 0;
    const fs = layout.fields;
    while (i < fs.length) {
      const f = fs[i] as (typeof fs)[number];
      if (!f.inUnion) {
        lines.push(`  ${decl(f.name, f.spec)}`);
        i++;
        continue;
      }
      const members: string[] = [];
      const at = f.offset;
      while (i < fs.length && fs[i]?.inUnion && fs[i]?.offset === at) {
        const m = fs[i] as (typeof fs)[number];
        members.push(`    ${decl(m.name, m.spec)}`);
        i++;
      }
      lines.push(`  union {\n${members.join("\n")}\n  };`);
    }
  }
  done.add(layout.name);
  out.push(`${layout.kind} ${cIdent(layout.name)} {\n${lines.join("\n")}\n};`);
}

interface CResults {
  readonly lines: Map<string, number>;
  readonly vfioChecked: { layout: AnyLayout; members: Set<string> }[];
}

function buildAndRun(dir: string): CResults {
  const header = HAVE_VFIO_H ? readFileSync(VFIO_H, "utf8") : "";
  const decls: string[] = [];
  const done = new Set<string>();
  for (const l of ALL_LAYOUTS) emitC(l, done, decls);

  const body: string[] = [];
  const p = (key: string, expr: string) =>
    body.push(`  printf("%s %llu\\n", "${key}", (unsigned long long)(${expr}));`);

  // 1a. errno values from asm-generic.
  for (const name of Object.keys(ERRNO)) {
    body.push(`#ifdef ${name}`);
    p(`errno.${name}`, name);
    body.push("#endif");
  }
  // 1b. ioctl macros.
  p("ioc._IOR.E.1.4", "_IOR('E', 0x01, int)");
  p("ioc._IOW.0xae.0x46.32", "_IOW(0xae, 0x46, char[32])");
  p("ioc._IOWR.0xae.0x02.4", "_IOWR(0xae, 0x02, int)");
  p("ioc._IOR.;.0x85.40", "_IOR(';', 0x85, char[40])");
  // 1c. VFIO structs, numbers and constants present in the system header.
  const vfioChecked: CResults["vfioChecked"] = [];
  if (HAVE_VFIO_H) {
    for (const l of VFIO_LAYOUTS) {
      const members = headerMembers(header, l.name);
      if (members === undefined) continue;
      vfioChecked.push({ layout: l, members });
      p(`vfio.sizeof.${l.name}`, `sizeof(struct ${l.name})`);
      for (const f of l.fields)
        if (members.has(f.name))
          p(`vfio.offsetof.${l.name}.${f.name}`, `offsetof(struct ${l.name}, ${f.name})`);
    }
    for (const [name, value] of Object.entries(uapi)) {
      if (!name.startsWith("VFIO_") || typeof value !== "number") continue;
      body.push(`#ifdef ${name}`);
      p(`vfio.const.${name}`, name);
      body.push("#endif");
    }
  }
  // 2. The engine: gcc's layout of each TS spec.
  for (const l of ALL_LAYOUTS) {
    p(`sim.sizeof.${l.name}`, `sizeof(${l.kind} ${cIdent(l.name)})`);
    for (const f of l.fields)
      p(`sim.offsetof.${l.name}.${f.name}`, `offsetof(${l.kind} ${cIdent(l.name)}, ${f.name})`);
  }

  const src = [
    "#include <stdio.h>",
    "#include <stddef.h>",
    "#include <linux/types.h>",
    "#include <linux/ioctl.h>",
    "#include <asm-generic/errno.h>",
    HAVE_VFIO_H ? "#include <linux/vfio.h>" : "",
    ...decls,
    "int main(void) {",
    ...body,
    "  return 0;",
    "}",
  ].join("\n");
  const cfile = join(dir, "abi.c");
  const exe = join(dir, "abi");
  writeFileSync(cfile, src);
  const cc = spawnSync(CC as string, ["-std=gnu11", "-Wall", "-o", exe, cfile], { encoding: "utf8" });
  if (cc.status !== 0) throw new Error(`C compile failed:\n${cc.stderr}`);
  const run = spawnSync(exe, [], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`C program failed: ${run.stderr}`);
  const lines = new Map<string, number>();
  for (const line of run.stdout.trim().split("\n")) {
    const [k, v] = line.split(" ");
    if (k !== undefined && v !== undefined) lines.set(k, Number(v));
  }
  return { lines, vfioChecked };
}

describe.skipIf(CC === undefined)(`C ABI check with ${CC ?? "no compiler"}`, () => {
  let dir = "";
  let r: CResults;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "uapi-abi-"));
    r = buildAndRun(dir);
  });
  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("errno names and values equal /usr/include/asm-generic/errno*.h", () => {
    const got = Object.fromEntries(Object.keys(ERRNO).map((n) => [n, r.lines.get(`errno.${n}`)]));
    expect(got).toEqual(ERRNO);
  });

  it("_IOR/_IOW/_IOWR equal asm-generic/ioctl.h", () => {
    expect(_IOR("E", 1, 4)).toBe(r.lines.get("ioc._IOR.E.1.4"));
    expect(_IOW(0xae, 0x46, 32)).toBe(r.lines.get("ioc._IOW.0xae.0x46.32"));
    expect(_IOWR(0xae, 0x02, 4)).toBe(r.lines.get("ioc._IOWR.0xae.0x02.4"));
    expect(_IOR(";", 0x85, 40)).toBe(r.lines.get("ioc._IOR.;.0x85.40"));
  });

  it.skipIf(!HAVE_VFIO_H)("VFIO structs match the system vfio.h (members it has)", () => {
    expect(r.vfioChecked.length).toBeGreaterThanOrEqual(12);
    for (const { layout, members } of r.vfioChecked) {
      for (const f of layout.fields) {
        if (!members.has(f.name)) continue;
        expect([layout.name, f.name, f.offset]).toEqual([
          layout.name,
          f.name,
          r.lines.get(`vfio.offsetof.${layout.name}.${f.name}`),
        ]);
      }
      const missing = layout.fields.filter((f) => !members.has(f.name));
      // sizeof is comparable when the header has every member, or lacks only trailing padding.
      if (missing.every((f) => f.reserved && f.offset + f.size === layout.size)) {
        expect([layout.name, layout.size]).toEqual([layout.name, r.lines.get(`vfio.sizeof.${layout.name}`)]);
      }
    }
  });

  it.skipIf(!HAVE_VFIO_H)("VFIO ioctl numbers and constants equal the system vfio.h's #defines", () => {
    let compared = 0;
    for (const [name, value] of Object.entries(uapi)) {
      if (!name.startsWith("VFIO_") || typeof value !== "number") continue;
      const c = r.lines.get(`vfio.const.${name}`);
      if (c === undefined) continue;
      expect([name, value]).toEqual([name, c]);
      compared++;
    }
    for (const [name, value] of Object.entries(VFIO_IOCTL)) {
      const c = r.lines.get(`vfio.const.${name}`);
      if (c !== undefined) expect([name, value]).toEqual([name, c]);
    }
    expect(compared).toBeGreaterThanOrEqual(25);
  });

  it("the layout engine agrees with gcc on every exported layout", () => {
    for (const l of ALL_LAYOUTS) {
      expect([l.name, l.size]).toEqual([l.name, r.lines.get(`sim.sizeof.${l.name}`)]);
      for (const f of l.fields) {
        expect([l.name, f.name, f.offset]).toEqual([
          l.name,
          f.name,
          r.lines.get(`sim.offsetof.${l.name}.${f.name}`),
        ]);
      }
    }
  });
});
