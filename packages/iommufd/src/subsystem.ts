/**
 * The `iommufd` subsystem: routes `iommufd.*` commands to their deciders.
 */
import type { Subsystem } from "@iommu-sim/eventlog";
import { decideClose, decideOpen } from "./context";
import { decideDestroy } from "./destroy";
import { evolveIommufd } from "./evolve";
import type { IommufdCommand, IommufdEvent } from "./messages";
import { decideOptionSet } from "./option";
import { INITIAL_IOMMUFD_STATE, type IommufdState } from "./state";

/** The part of the root state the iommufd subsystem reads. */
export interface IommufdRoot {
  readonly iommufd: IommufdState;
}

/**
 * The iommufd subsystem (root key `iommufd`, command prefix `iommufd.`).
 * Errors: see each decider (context.ts, destroy.ts, option.ts).
 */
export const iommufd: Subsystem<IommufdCommand, IommufdEvent, IommufdState, IommufdRoot> = {
  commands: ["iommufd."],
  events: ["iommufd."],
  initialState: INITIAL_IOMMUFD_STATE,
  decide(state, c, ctx) {
    switch (c.type) {
      case "iommufd.open":
        return decideOpen(state, c.data.pid, c.data.vfio, ctx);
      case "iommufd.close":
        return decideClose(state, c.data.ctx);
      case "iommufd.destroy":
        return decideDestroy(state, c.data.ctx, c.data.id);
      case "iommufd.option.set":
        return decideOptionSet(state, c.data.ctx, c.data.option, c.data.objectId, c.data.value);
    }
  },
  evolve: evolveIommufd,
};
