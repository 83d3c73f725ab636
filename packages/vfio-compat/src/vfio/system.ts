/**
 * The composed system with the vfio subsystem: iommufd's `createSystem`
 * (mm, iopt, mock domain, iommufd, vtd, smmu, ioasid) plus `vfio`, whose
 * decide needs the composed evolve. iommufd cannot compose vfio itself
 * (vfio-compat depends on iommufd), so whoever builds the model (the cli,
 * the demo) uses these instead of iommufd's createSystemLog /
 * createEmptySystemLog.
 */
import type { EventLog, LogOptions, Message } from "@iommu-sim/eventlog";
import {
  createEmptySystemLog,
  createSystemLog,
  DEFAULT_PLATFORM,
  type Platform,
  type RootEvolve,
  type SystemState,
} from "@iommu-sim/iommufd";
import type { VfioState } from "./state";
import { createVfio } from "./subsystem";

/** The root state of the system with vfio. */
export type VfioSystemState = SystemState & { readonly vfio: VfioState };

/** A log over the system with vfio. */
export type VfioSystemLog = EventLog<Message, Message, VfioSystemState>;

/** Build a log with `{vfio}` as extra and hand the vfio subsystem the composed evolve. */
function withVfio(
  make: (extra: { vfio: ReturnType<typeof createVfio> }) => EventLog<Message, Message, unknown>,
) {
  let evolve: RootEvolve | undefined;
  const log = make({ vfio: createVfio({ evolve: () => evolve! }) });
  evolve = log.decider.evolve as unknown as RootEvolve;
  return log as unknown as VfioSystemLog;
}

/**
 * iommufd's `createSystemLog(options, {vfio}, platform)`: the platform's
 * unit commands first, then ready for commands.
 * @throws Error if a unit cannot be added (see createSystemLog).
 */
export function createVfioSystemLog(
  options?: LogOptions,
  platform: Platform = DEFAULT_PLATFORM,
): VfioSystemLog {
  return withVfio((extra) => createSystemLog(options, extra, platform) as never);
}

/** iommufd's `createEmptySystemLog(options, {vfio}, platform)`: no record yet, to replay a recorded log into. */
export function createEmptyVfioSystemLog(
  options?: LogOptions,
  platform: Platform = DEFAULT_PLATFORM,
): VfioSystemLog {
  return withVfio((extra) => createEmptySystemLog(options, extra, platform) as never);
}
