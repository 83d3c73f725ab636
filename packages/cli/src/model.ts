/**
 * The composed model: the one place where the root decider that the
 * daemon, replay, rerun and inspect run is chosen, and where device nodes
 * get their drivers.
 *
 * - subsystems: iommufd's `createSystem()` (mm, iopt, the selftest mock
 *   domain, iommufd, VT-d, SMMUv3, ioasid) with vfio-compat's `vfio`
 *   subsystem (groups and device files) as its extra;
 * - device nodes: /dev/iommu and /dev/vfio/vfio (iommufd), /dev/vfio/$GROUP
 *   and /dev/vfio/devices/vfioN (vfio-compat), /dev/ioasid (ioasid); a new
 *   one is a `DeviceDriver` added to `drivers` in `createModel`;
 * - real processes' memory: one `ExternalMemory` mirror shared by the
 *   drivers (memory/external.ts).
 */
import type { EventLog, LogOptions, Message } from "@iommu-sim/eventlog";
import {
  createEmptySystemLog,
  createSystemLog,
  DEFAULT_PLATFORM,
  iommufdFilePoll,
  iommufdFileRead,
  iommufdFileRelease,
  iommufdFileWrite,
  type Platform,
  type RootEvolve,
  type SystemState,
} from "@iommu-sim/iommufd";
import { createVfio, type VfioState } from "@iommu-sim/vfio-compat";
import type { DeviceDriver } from "./daemon/driver";
import { ioasidDriver } from "./drivers/ioasid";
import { iommufdDriver } from "./drivers/iommufd";
import type { IommufdFileOps } from "./drivers/iommufd-file";
import { vfioDriver } from "./drivers/vfio";
import { ExternalMemory } from "./memory/external";

/** iommufd's operations on the fault-queue and access fds it hands out (packages/iommufd/src/files.ts). */
const IOMMUFD_FILE_OPS: IommufdFileOps = {
  read: iommufdFileRead,
  write: iommufdFileWrite,
  poll: iommufdFilePoll,
  release: iommufdFileRelease,
};

/** The root state: one slice per subsystem. */
export type RootState = SystemState & { readonly vfio: VfioState };

/** The log of a model. */
export type ModelEventLog = EventLog<Message, Message, RootState>;

/** A model instance: its log, the machine it simulates and its device drivers. */
export interface Model {
  readonly platform: Platform;
  readonly log: ModelEventLog;
  readonly drivers: readonly DeviceDriver[];
  /** The mirror of real processes' memory (memory/external.ts) the drivers share. */
  readonly external: ExternalMemory<RootState>;
  /** A served process is gone (its connection ended and its files were let go): the daemon calls this. */
  processExited(pid: number): void;
  /** A served process unmapped [addr, addr + length) of its memory: the daemon calls this. */
  processUnmapped(pid: number, addr: bigint, length: bigint): void;
}

/**
 * A fresh log over the root decider of `platform`: it starts with the
 * commands that add the platform's IOMMU units (they are part of every
 * session's log, so a replay rebuilds them) — or, with `empty`, with no
 * record at all, to append a recorded log into (replay, rerun). `options`
 * go to the log (eventlog `LogOptions`: `retain`, `snapshotEvery`).
 */
export function createModelLog(
  platform: Platform = DEFAULT_PLATFORM,
  empty = false,
  options: LogOptions = {},
): ModelEventLog {
  // VFIO groups and device files (vfio-compat) decide binds and attaches on the
  // state the composed system's evolve leaves; it exists once the log does.
  let evolve: RootEvolve | undefined;
  const extra = { vfio: createVfio({ evolve: () => evolve! }) };
  const log = (empty
    ? createEmptySystemLog(options, extra, platform)
    : createSystemLog(options, extra, platform)) as unknown as ModelEventLog;
  evolve = log.decider.evolve as unknown as RootEvolve;
  return log;
}

/**
 * A model of `platform` (default: DEFAULT_PLATFORM) with a fresh log (see
 * `createModelLog`; `empty` for replaying a recorded log; `retain` keeps
 * only about that many recent records in memory, eventlog `LogOptions`)
 * and the drivers of
 * every device node: /dev/iommu, /dev/vfio/vfio (the VFIO container on
 * iommufd), /dev/vfio/$GROUP and /dev/vfio/devices/vfioN (VFIO groups and
 * device cdevs) and /dev/ioasid. IOAS_MAP of a served
 * program's memory pins the program's own pages (`external`).
 */
export function createModel(
  platform: Platform = DEFAULT_PLATFORM,
  options: { empty?: boolean; retain?: number } = {},
): Model {
  const log = createModelLog(
    platform,
    options.empty ?? false,
    options.retain === undefined ? {} : { retain: options.retain },
  );
  const external = new ExternalMemory<RootState>(log);
  const port = external.port();
  return {
    platform,
    log,
    drivers: [
      iommufdDriver(port, false, external, IOMMUFD_FILE_OPS),
      iommufdDriver(port, true, external, IOMMUFD_FILE_OPS),
      ioasidDriver(log),
      vfioDriver(port),
    ],
    external,
    processExited: (pid) => external.exited(pid),
    processUnmapped: (pid, addr, length) => external.unmapped(pid, addr, length),
  };
}

/**
 * Records a daemon keeps in memory (`exec`, `serve`): its log streams to
 * `--log FILE` as commands commit, so older records need not stay — an
 * ioctl-heavy program would otherwise grow the daemon by every record
 * (4 per IOAS map + unmap pair).
 */
export const DAEMON_RETAIN = 65_536;
