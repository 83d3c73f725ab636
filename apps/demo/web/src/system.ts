/**
 * The root decider the viewer replays logs with.
 *
 * The view works with any root decider whose state is a plain object of
 * slices (`combine` builds one). By default it is the shared system of
 * @iommu-sim/iommufd (`createSystem`: mm, iopt, the selftest mock domain,
 * iommufd, and whatever joins it later) plus the subsystems that exist but
 * are not composed there yet (today: ioasid). Slices the view does not know
 * are still shown by the generic state inspector.
 */
import type { Decider, Message } from "@iommu-sim/eventlog";
import { createIoasid } from "@iommu-sim/ioasid";
import { createSystem } from "@iommu-sim/iommufd";
import { withSubsystems } from "./compose";

/** A root state as the view sees it: one slice per subsystem key (`mm`, `iopt`, `ioasid`, `iommufd`, `vtd`, `smmu`…). */
export type ViewerRoot = Readonly<Record<string, unknown>>;

/** Any root decider over plain-object root states: what the view replays. */
export type ViewerDecider = Decider<Message, Message, ViewerRoot>;

/**
 * `createSystem()` plus ioasid. The ioasid device lookup finds no device:
 * the viewer replays (evolve) and never decides device-bound commands; the
 * sample log binds no device.
 */
export function defaultSystem(): ViewerDecider {
  const ioasid = createIoasid({ devices: () => undefined });
  return withSubsystems(createSystem() as unknown as ViewerDecider, { ioasid });
}
