/**
 * The root decider the viewer replays logs with.
 *
 * The view works with any root decider whose state is a plain object of
 * slices (`combine` builds one). By default it is the shared system of
 * @iommu-sim/iommufd (`createSystem`: mm, iopt, the selftest mock domain,
 * iommufd, the VT-d and SMMUv3 models, ioasid). Slices the view does not
 * know are still shown by the generic state inspector.
 */
import type { Decider, Message } from "@iommu-sim/eventlog";
import { createSystem } from "@iommu-sim/iommufd";

/** A root state as the view sees it: one slice per subsystem key (`mm`, `iopt`, `ioasid`, `iommufd`, `vtd`, `smmu`…). */
export type ViewerRoot = Readonly<Record<string, unknown>>;

/** Any root decider over plain-object root states: what the view replays. */
export type ViewerDecider = Decider<Message, Message, ViewerRoot>;

/** The shared system of @iommu-sim/iommufd on its default platform. */
export function defaultSystem(): ViewerDecider {
  return createSystem() as unknown as ViewerDecider;
}
