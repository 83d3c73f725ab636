/**
 * The composed model: the one place where the root decider that the
 * daemon, replay, rerun and inspect run is chosen, and where device nodes
 * get their drivers. Packages join here as they arrive:
 *
 * - subsystems: the root decider is iommufd's `createSystem()` (mm, iopt,
 *   the selftest mock domain and iommufd, composed there because iommufd's
 *   commands emit their events); hardware, ioasid and vfio-compat join it
 *   as they are wired in;
 * - device nodes: add the driver to `drivers` in `createModel` (a
 *   `DeviceDriver` with its paths, e.g. `/dev/vfio/vfio`, `/dev/ioasid`).
 */
import type { EventLog, Message } from "@iommu-sim/eventlog";
import {
  createEmptySystemLog,
  createSystemLog,
  DEFAULT_PLATFORM,
  type Platform,
  type SystemState,
} from "@iommu-sim/iommufd";
import type { DeviceDriver } from "./daemon/driver";
import { iommufdDriver } from "./drivers/iommufd";

/** The root state: one slice per subsystem. */
export type RootState = SystemState;

/** The log of a model. */
export type ModelEventLog = EventLog<Message, Message, RootState>;

/** A model instance: its log, the machine it simulates and its device drivers. */
export interface Model {
  readonly platform: Platform;
  readonly log: ModelEventLog;
  readonly drivers: readonly DeviceDriver[];
}

/**
 * A fresh log over the root decider of `platform`: it starts with the
 * commands that add the platform's IOMMU units (they are part of every
 * session's log, so a replay rebuilds them) — or, with `empty`, with no
 * record at all, to append a recorded log into (replay, rerun).
 */
export function createModelLog(platform: Platform = DEFAULT_PLATFORM, empty = false): ModelEventLog {
  return empty
    ? createEmptySystemLog(undefined, undefined, platform)
    : createSystemLog(undefined, undefined, platform);
}

/**
 * A model of `platform` (default: DEFAULT_PLATFORM) with a fresh log (see
 * `createModelLog`; `empty` for replaying a recorded log) and the drivers of
 * every device node that exists so far: /dev/iommu and /dev/vfio/vfio (the
 * VFIO container on iommufd).
 */
export function createModel(platform: Platform = DEFAULT_PLATFORM, options: { empty?: boolean } = {}): Model {
  const log = createModelLog(platform, options.empty ?? false);
  return { platform, log, drivers: [iommufdDriver(log), iommufdDriver(log, true)] };
}
