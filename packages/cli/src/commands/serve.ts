/**
 * `iommu-sim serve --socket PATH [--platform FILE] [--log FILE]`: the
 * daemon on its own, so that several programs (each run with
 * LD_PRELOAD=<shim> IOMMU_SIM_SOCKET=PATH) share one platform. Runs until
 * SIGINT or SIGTERM.
 */
import type { Platform } from "@iommu-sim/iommufd";
import { type Daemon, startDaemon } from "../daemon/server";
import { type LogRecorder, recordLog } from "../log-file";
import { createModel, DAEMON_RETAIN, type Model } from "../model";
import { buildShim } from "../shim/build";

/** Options of `startServe`. */
export interface ServeOptions {
  readonly socketPath: string;
  readonly platform?: Platform;
  readonly logPath?: string;
}

/** A running `serve`: its daemon, model, and the shim programs should preload. */
export interface Serving {
  readonly daemon: Daemon;
  readonly model: Model;
  readonly shim: string;
  stop(): Promise<void>;
}

/** Start serving (builds the shim so that its path can be printed for clients). */
export async function startServe(options: ServeOptions): Promise<Serving> {
  const model = createModel(options.platform, { retain: DAEMON_RETAIN });
  const shim = buildShim();
  let recorder: LogRecorder | undefined;
  if (options.logPath !== undefined) {
    recorder = recordLog(model.log, options.logPath, { platform: model.platform, tool: "iommu-sim serve" });
  }
  let daemon: Daemon;
  try {
    daemon = await startDaemon({
      socketPath: options.socketPath,
      drivers: model.drivers,
      onProcessExit: (pid) => model.processExited(pid),
      onProcessUnmap: (pid, addr, length) => model.processUnmapped(pid, addr, length),
    });
  } catch (e) {
    recorder?.close();
    throw e;
  }
  return {
    daemon,
    model,
    shim,
    async stop() {
      await daemon.close();
      recorder?.close();
    },
  };
}

/** Serve until SIGINT/SIGTERM; prints how to run a program against it. @returns the exit code. */
export async function serveUntilSignalled(options: ServeOptions): Promise<number> {
  const s = await startServe(options);
  process.stderr.write(
    `iommu-sim: serving on ${options.socketPath}\n` +
      `  run programs with: LD_PRELOAD=${s.shim} IOMMU_SIM_SOCKET=${options.socketPath} PROGRAM\n`,
  );
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await s.stop();
  return 0;
}
