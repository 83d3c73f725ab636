/**
 * The `smmu` subsystem: root key `smmu`, commands `smmu.*`. Listens to its
 * own events only; emits `mm.phys.written` for DMA stores into RAM, which
 * the `mm` subsystem applies.
 */
import type { Subsystem } from "@iommu-sim/eventlog";
import type { SmmuCommand } from "@iommu-sim/uapi";
import { decideSmmu, type SmmuOutEvent } from "./decide";
import { evolveSmmu } from "./evolve";
import { initialSmmuState, type SmmuState } from "./state";
import type { SmmuRoot } from "./translator";

/**
 * The SMMUv3 hardware model as a subsystem. Compose it with `combine({ smmu:
 * smmuSubsystem, ... })`; with an `mm` slice beside it (`{ ram: FrameStore }`)
 * DMA reads and guest-owned tables come from RAM.
 */
export const smmuSubsystem: Subsystem<SmmuCommand, SmmuOutEvent, SmmuState, SmmuRoot> = {
  commands: ["smmu."],
  events: ["smmu."],
  initialState: initialSmmuState,
  decide: decideSmmu,
  evolve: (state, event) => (event.type === "mm.phys.written" ? state : evolveSmmu(state, event)),
};
