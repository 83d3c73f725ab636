/**
 * `iommu-sim exec [--platform FILE] [--log FILE] -- PROGRAM [ARGS…]`: run
 * PROGRAM with the model's device nodes served by a private daemon on a
 * socket in a fresh 0700 temporary directory, through the preload shim
 * (LD_PRELOAD, $IOMMU_SIM_SOCKET). The exit status is PROGRAM's (128 + the
 * signal number when a signal ended it, as shells report it).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import type { Platform } from "@iommu-sim/iommufd";
import { type Daemon, startDaemon } from "../daemon/server";
import { UsageError } from "../errors";
import { type LogRecorder, recordLog } from "../log-file";
import { createModel, DAEMON_RETAIN, type Model } from "../model";
import { buildShim } from "../shim/build";

/** Options of `runExec`. */
export interface ExecOptions {
  readonly program: string;
  readonly args?: readonly string[];
  /** The simulated machine (default DEFAULT_PLATFORM). */
  readonly platform?: Platform;
  /** Write the session's records here as JSON Lines. */
  readonly logPath?: string;
  /** "inherit" (default): the program uses our stdio; "pipe": its output is collected. */
  readonly stdio?: "inherit" | "pipe";
  /** Extra environment variables for the program. */
  readonly env?: Readonly<Record<string, string>>;
}

/** What `runExec` returns. */
export interface ExecResult {
  /** The program's exit status (128 + signal number if a signal ended it). */
  readonly status: number;
  /** With stdio "pipe": what it wrote. */
  readonly stdout: string;
  readonly stderr: string;
  /** The model after the run (its log holds the session's records). */
  readonly model: Model;
}

/** The program's environment: the shim first in LD_PRELOAD, the socket named. */
function childEnv(shim: string, socket: string, extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const preload = process.env.LD_PRELOAD ? `${shim}:${process.env.LD_PRELOAD}` : shim;
  return { ...process.env, ...extra, LD_PRELOAD: preload, IOMMU_SIM_SOCKET: socket };
}

/**
 * Run a program under the model and wait for it.
 * @throws UsageError if PROGRAM cannot be started; ShimBuildError if the
 *   shim cannot be built; Error if the log or the socket cannot be created.
 */
export async function runExec(options: ExecOptions): Promise<ExecResult> {
  const model = createModel(options.platform, { retain: DAEMON_RETAIN });
  const shim = buildShim();
  const dir = mkdtempSync(join(tmpdir(), "iommu-sim-"));
  let recorder: LogRecorder | undefined;
  let daemon: Daemon | undefined;
  try {
    if (options.logPath !== undefined) {
      recorder = recordLog(model.log, options.logPath, { platform: model.platform, tool: "iommu-sim exec" });
    }
    daemon = await startDaemon({
      socketPath: join(dir, "daemon.sock"),
      drivers: model.drivers,
      onProcessExit: (pid) => model.processExited(pid),
      onProcessUnmap: (pid, addr, length) => model.processUnmapped(pid, addr, length),
    });
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(options.program, options.args ?? [], {
        env: childEnv(shim, daemon.socketPath, options.env ?? {}),
        stdio: options.stdio === "pipe" ? ["ignore", "pipe", "pipe"] : "inherit",
      });
    } catch (e) {
      // spawn throws at once for an empty or NUL-containing program name.
      throw new UsageError(`'${options.program}': cannot run: ${(e as Error).message}`);
    }
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr?.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    // Like a shell waiting for its job: a terminal's SIGINT reaches the
    // program itself; SIGTERM/SIGHUP sent to us are passed on to it.
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    const ignore = () => {};
    process.on("SIGINT", ignore).on("SIGTERM", forward).on("SIGHUP", forward);
    let status: number;
    try {
      status = await new Promise<number>((resolve, reject) => {
        child.once("error", (e: NodeJS.ErrnoException) =>
          reject(new UsageError(`${options.program}: cannot run: ${e.code ?? e.message}`)),
        );
        child.once("close", (code, signal) =>
          resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)),
        );
      });
    } finally {
      process.off("SIGINT", ignore).off("SIGTERM", forward).off("SIGHUP", forward);
    }
    return { status, stdout, stderr, model };
  } finally {
    await daemon?.close();
    recorder?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
