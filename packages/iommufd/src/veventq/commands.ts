/** Routes the vEVENTQ commands of the iommufd subsystem to their deciders (veventq/decide.ts, selftest/vevent.ts). */
import type { DecideContext } from "@iommu-sim/eventlog";
import type { Errno } from "@iommu-sim/uapi";
import type { IommufdCommand } from "../messages";
import type { IommufdRoot } from "../root";
import { decideTriggerVevent } from "../selftest/vevent";
import { decideVeventqAlloc, decideVeventqRead, decideVeventqRelease } from "./decide";

type VeventqCommand = Extract<
  IommufdCommand,
  {
    type:
      | "iommufd.veventq.alloc"
      | "iommufd.veventq.read"
      | "iommufd.veventq.release"
      | "iommufd.selftest.trigger_vevent";
  }
>;

/** Decide one vEVENTQ command (errors: see each decider). */
export function decideVeventqCommand(
  root: IommufdRoot,
  c: VeventqCommand,
  ctx: DecideContext,
): { type: string; data: unknown }[] | Errno {
  switch (c.type) {
    case "iommufd.veventq.alloc":
      return decideVeventqAlloc(root, c.data, ctx);
    case "iommufd.veventq.read":
      return decideVeventqRead(root, c.data, ctx);
    case "iommufd.veventq.release":
      return decideVeventqRelease(root, c.data);
    case "iommufd.selftest.trigger_vevent":
      return decideTriggerVevent(root, c.data, ctx);
  }
}
