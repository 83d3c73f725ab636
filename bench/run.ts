/**
 * `pnpm bench [filter…]`: run every package's benchmarks (or those whose
 * name contains a filter), print a table, and write bench/results.json
 * (`[{name, unit, value}]`, medians) and bench/machine.json.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Bench } from "tinybench";
import type { BenchCase } from "./harness";

const root = fileURLToPath(new URL("..", import.meta.url));
const filters = process.argv.slice(2);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function discover(): Promise<BenchCase[]> {
  const cases: BenchCase[] = [];
  for (const dir of ["packages", "apps"]) {
    for (const pkg of readdirSync(join(root, dir))) {
      const bdir = join(root, dir, pkg, "bench");
      if (!existsSync(bdir)) continue;
      for (const f of readdirSync(bdir)
        .filter((x) => x.endsWith(".bench.ts"))
        .sort()) {
        const mod = (await import(pathToFileURL(join(bdir, f)).href)) as { default: BenchCase[] };
        cases.push(...mod.default);
      }
    }
  }
  return cases.filter((c) => filters.length === 0 || filters.some((f) => c.name.includes(f)));
}

async function runCase(c: BenchCase): Promise<number> {
  await c.setup?.();
  try {
    if (c.kind === "value") {
      const xs: number[] = [];
      for (let i = 0; i < (c.samples ?? 5); i++) xs.push(await c.measure());
      return median(xs);
    }
    const bench = new Bench({
      time: 1500,
      iterations: c.iterations ?? 10,
      warmup: true,
      warmupIterations: 3,
    });
    const opts = c.beforeEach === undefined ? {} : { beforeEach: c.beforeEach };
    bench.add(c.name, c.iteration, opts);
    await bench.run();
    const task = bench.tasks[0]!;
    const result = task.result as unknown as { latency?: { p50?: number }; error?: unknown; state?: string };
    if (result.error) throw result.error;
    const p50ms = result.latency?.p50;
    if (p50ms === undefined) throw new Error(`no latency result for ${c.name}`);
    if (c.kind === "latency") return c.unit === "µs" ? p50ms * 1000 : p50ms;
    return c.opsPerIteration / (p50ms / 1000);
  } finally {
    await c.teardown?.();
  }
}

function meets(c: BenchCase, v: number): string {
  if (c.target === undefined) return "";
  return (c.target.op === ">=" ? v >= c.target.value : v <= c.target.value) ? "ok" : "MISSED";
}

const cases = await discover();
const resultsPath = join(root, "bench", "results.json");
const previous: { name: string; unit: string; value: number }[] = existsSync(resultsPath)
  ? JSON.parse(readFileSync(resultsPath, "utf8"))
  : [];
const results = new Map(previous.map((r) => [r.name, r]));
for (const c of cases) {
  const value = await runCase(c);
  const rounded = Number(value.toPrecision(4));
  results.set(c.name, { name: c.name, unit: c.unit, value: rounded });
  const target = c.target ? `${c.target.op} ${c.target.value.toLocaleString("en")}` : "";
  console.log(
    `${c.name.padEnd(28)} ${rounded.toLocaleString("en").padStart(14)} ${c.unit.padEnd(12)} ${target.padEnd(16)} ${meets(c, value)}`,
  );
}
const sorted = [...results.values()].sort((a, b) => a.name.localeCompare(b.name));
writeFileSync(resultsPath, `${JSON.stringify(sorted, null, 2)}\n`);
writeFileSync(
  join(root, "bench", "machine.json"),
  `${JSON.stringify({ cpu: os.cpus()[0]?.model, cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.arch()}` }, null, 2)}\n`,
);
