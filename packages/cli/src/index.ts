/**
 * @packageDocumentation
 * `iommu-sim`: run unmodified C programs against the model (exec, serve:
 * a daemon + an LD_PRELOAD shim, talking over a UNIX socket and a shared
 * memfd slot), and replay, rerun and inspect
 * logs. The Node edge of iommu-sim: nothing imports this package except
 * tools built on it.
 */
export { main, USAGE } from "./cli";
export { type ExecOptions, type ExecResult, runExec } from "./commands/exec";
export { type ServeOptions, type Serving, startServe } from "./commands/serve";
export {
  type Caller,
  DEVICE_NAMESPACE,
  type DeviceDriver,
  DriverRegistry,
  type OpenFile,
  POLLERR,
  POLLIN,
  POLLOUT,
  pathMatches,
} from "./daemon/driver";
export { FileTable } from "./daemon/files";
export { ProcMemory } from "./daemon/memory";
export { type Install, MSG, PROTOCOL_VERSION } from "./daemon/protocol";
export { type Daemon, type DaemonOptions, startDaemon } from "./daemon/server";
export {
  cpuPressure,
  POLL_WINDOW_MAX_MS,
  POLL_WINDOW_MIN_MS,
  ROUTE_SLOT_PSI,
  ROUTE_SOCKET_PSI,
} from "./daemon/shm";
export { SLOT, slotSum } from "./daemon/slot";
export { openSlot } from "./daemon/slot-open";
export { type IoasidPort, ioasidDriver } from "./drivers/ioasid";
export { IommufdContextFile, iommufdDriver, type ModelPort } from "./drivers/iommufd";
export { IommufdAnonFile, type IommufdFileOps } from "./drivers/iommufd-file";
export { type VfioPort, vfioDriver } from "./drivers/vfio";
export { EXIT_USAGE, UsageError } from "./errors";
export { type LogRecorder, recordLog } from "./log-file";
export { type InspectResult, inspectLog } from "./logs/inspect";
export { type ReplayResult, replayLog } from "./logs/replay";
export { type Divergence, type RerunResult, rerunLog } from "./logs/rerun";
export { SLICE_SUMMARIES, summarise } from "./logs/summary";
export { type ExternalLog, ExternalMemory, type ExternalRoot } from "./memory/external";
export { type ProcCredentials, type RealVma, readCredentials, readMaps } from "./memory/proc-info";
export { createModel, createModelLog, type Model, type ModelEventLog, type RootState } from "./model";
export { loadPlatform } from "./platform-file";
export { buildShim, buildSlotMap, ShimBuildError, shimCacheDir, shimSourcePath } from "./shim/build";
