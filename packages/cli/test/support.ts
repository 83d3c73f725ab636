/** Test support: compile the C programs in test/c/ once per run, into a temp dir. */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Daemon, type DaemonOptions, startDaemon } from "../src/daemon/server";
import { createModel, type Model } from "../src/model";

/** Whether a C compiler exists (the exec tests need one for the shim and the programs). */
export const HAS_CC = spawnSync(process.env.CC || "cc", ["--version"], { stdio: "ignore" }).status === 0;
if (!HAS_CC) console.warn("cli tests: no C compiler (cc): the exec, shim and fuzz tests are skipped");

const cdir = fileURLToPath(new URL("./c/", import.meta.url));
let outDir: string | undefined;
const built = new Map<string, string>();

/** Build test/c/<name>.c (warnings are errors) and return the executable's path. */
export function cProgram(name: string): string {
  outDir ??= mkdtempSync(join(tmpdir(), "iommu-sim-test-"));
  let exe = built.get(name);
  if (exe === undefined) {
    exe = join(outDir, name);
    execFileSync(
      process.env.CC || "cc",
      ["-Wall", "-Wextra", "-Werror", "-O1", "-pthread", "-o", exe, join(cdir, `${name}.c`)],
      {
        stdio: "pipe",
      },
    );
    built.set(name, exe);
  }
  return exe;
}

const examplesDir = fileURLToPath(new URL("../../../examples/", import.meta.url));

/** Build the repository's examples/<name>.c (warnings are errors) and return the executable's path. */
export function exampleProgram(name: string): string {
  outDir ??= mkdtempSync(join(tmpdir(), "iommu-sim-test-"));
  const key = `examples/${name}`;
  let exe = built.get(key);
  if (exe === undefined) {
    exe = join(outDir, `example-${name}`);
    execFileSync(
      process.env.CC || "cc",
      ["-Wall", "-Wextra", "-Werror", "-O1", "-o", exe, join(examplesDir, `${name}.c`)],
      { stdio: "pipe" },
    );
    built.set(key, exe);
  }
  return exe;
}

/** Run `exe` as a client of a running daemon (LD_PRELOAD + socket, plus `env`), collecting its output. */
export function runClient(
  shim: string,
  socket: string,
  exe: string,
  args: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, {
      env: { ...process.env, LD_PRELOAD: shim, IOMMU_SIM_SOCKET: socket, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ status: code ?? (signal ? 128 : -1), stdout, stderr }));
  });
}

/** A model served by a daemon on a fresh socket (see modelDaemon). */
export interface ModelDaemon {
  readonly model: Model;
  readonly daemon: Daemon;
  /** Exceptions that escaped a driver or the model (a bug: tests expect none). */
  readonly internalErrors: unknown[];
}

/**
 * A fresh model and a daemon serving its drivers on a new socket, telling
 * the model when a process exits and recording internal errors; `options`
 * add to or override those defaults.
 */
export async function modelDaemon(options: Partial<DaemonOptions> = {}): Promise<ModelDaemon> {
  const model = createModel();
  const internalErrors: unknown[] = [];
  const daemon = await startDaemon({
    socketPath: join(mkdtempSync(join(tmpdir(), "iommu-sim-d-")), "d.sock"),
    drivers: model.drivers,
    onInternalError: (e) => internalErrors.push(e),
    onProcessExit: (pid) => model.processExited(pid),
    ...options,
  });
  return { model, daemon, internalErrors };
}
