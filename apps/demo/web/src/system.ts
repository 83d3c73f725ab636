/**
 * The root decider the viewer replays logs with.
 *
 * The view works with any root decider whose state is a plain object of
 * slices (`combine` builds one). By default it is the system `pnpm demo`
 * runs: @iommu-sim/iommufd's `createSystem` (mm, iopt, the selftest mock
 * domain, iommufd, the VT-d and SMMUv3 models, ioasid) with
 * @iommu-sim/vfio-compat's `vfio` subsystem (VFIO groups and device files),
 * as its `createVfioSystemLog` composes them. Slices the view does not know
 * are still shown by the generic state inspector.
 */
import type { Decider, Message } from "@iommu-sim/eventlog";
import { createSystem, type RootEvolve } from "@iommu-sim/iommufd";
import { createVfio } from "@iommu-sim/vfio-compat";

/** A root state as the view sees it: one slice per subsystem key (`mm`, `iopt`, `ioasid`, `iommufd`, `vtd`, `smmu`, `vfio`…). */
export type ViewerRoot = Readonly<Record<string, unknown>>;

/** Any root decider over plain-object root states: what the view replays. */
export type ViewerDecider = Decider<Message, Message, ViewerRoot>;

/** The shared system with VFIO groups and device files, on the default platform. */
export function defaultSystem(): ViewerDecider {
  // vfio's decide chains the composed evolve (a device open binds and attaches in one command).
  let evolve: RootEvolve | undefined;
  const decider = createSystem({ vfio: createVfio({ evolve: () => evolve! }) });
  evolve = decider.evolve as unknown as RootEvolve;
  return decider as unknown as ViewerDecider;
}
