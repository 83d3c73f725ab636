/**
 * The composed system: every subsystem iommufd drives, in evolve order.
 * For now: `mm` and `iopt` (packages/iopt), the selftest mock domain, and
 * iommufd; the hardware drivers (hw-vtd, hw-smmu), ioasid and vfio-compat
 * join here as they are wired in.
 */
import { combine, createLog, type EventLog, type LogOptions, type Message } from "@iommu-sim/eventlog";
import { ioptSubsystems } from "@iommu-sim/iopt";
import type { RootEvolve } from "./root";
import { createIommufd } from "./subsystem";

/** The root decider of the whole system. */
export function createSystem() {
  let evolve: RootEvolve | undefined;
  const decider = combine({
    ...ioptSubsystems,
    iommufd: createIommufd({ evolve: () => evolve! }),
  });
  evolve = decider.evolve as unknown as RootEvolve;
  return decider;
}

/** The system's root state. */
export type SystemState = ReturnType<typeof createSystem>["initialState"];

/** An event log over `createSystem()`. */
export function createSystemLog(options?: LogOptions): EventLog<Message, Message, SystemState> {
  return createLog(createSystem() as never, options);
}
