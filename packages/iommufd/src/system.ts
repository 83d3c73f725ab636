/**
 * The composed system: every subsystem iommufd drives, in evolve order:
 * `mm` and `iopt` (packages/iopt), the selftest `mockDomain`, `iommufd`,
 * then any extra subsystems the caller adds (ioasid, the hardware drivers,
 * vfio-compat — each composed by the application that uses them, since
 * iommufd does not depend on them).
 */
import {
  combine,
  createLog,
  type EventLog,
  type LogOptions,
  type Message,
  type Subsystem,
} from "@iommu-sim/eventlog";
import { ioptSubsystems } from "@iommu-sim/iopt";
import type { RootEvolve } from "./root";
import { createIommufd } from "./subsystem";

// biome-ignore lint/suspicious/noExplicitAny: heterogeneous subsystem map
type Extra = Record<string, Subsystem<any, any, any, any>>;

/** The root decider of the whole system, with `extra` subsystems evolved after iommufd. */
export function createSystem<X extends Extra = Record<never, never>>(extra?: X) {
  let evolve: RootEvolve | undefined;
  const decider = combine({
    ...ioptSubsystems,
    iommufd: createIommufd({ evolve: () => evolve! }),
    ...(extra ?? ({} as X)),
  });
  evolve = decider.evolve as unknown as RootEvolve;
  return decider;
}

/** The system's root state (without extras). */
export type SystemState = ReturnType<typeof createSystem>["initialState"];

/** An event log over `createSystem(extra)`. */
export function createSystemLog<X extends Extra = Record<never, never>>(
  options?: LogOptions,
  extra?: X,
): EventLog<Message, Message, ReturnType<typeof createSystem<X>>["initialState"]> {
  return createLog(createSystem(extra) as never, options);
}
