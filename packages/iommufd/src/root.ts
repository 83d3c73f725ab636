/**
 * The part of the root state iommufd reads: its own slice and the slices
 * of the packages it drives (iopt's `iopt` and `mm`).
 */
import type { IoptRoot } from "@iommu-sim/iopt";
import type { IommufdState } from "./state";

/** The root state iommufd's deciders see. */
export interface IommufdRoot extends IoptRoot {
  readonly iommufd: IommufdState;
}

/** Applies one event to a whole root state (the composed system's evolve). */
export type RootEvolve = (root: IommufdRoot, event: { type: string; data: unknown }) => IommufdRoot;
