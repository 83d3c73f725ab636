/** Routes the fault commands of the iommufd subsystem to their deciders (fault/decide.ts). */
import type { DecideContext } from "@iommu-sim/eventlog";
import type { Errno } from "@iommu-sim/uapi";
import type { IommufdCommand } from "../messages";
import type { IommufdRoot } from "../root";
import {
  decideFaultAlloc,
  decideFaultRead,
  decideFaultRelease,
  decideFaultRespond,
  decideTriggerIopf,
} from "./decide";

type FaultCommand = Extract<
  IommufdCommand,
  {
    type:
      | "iommufd.fault.alloc"
      | "iommufd.fault.read"
      | "iommufd.fault.respond"
      | "iommufd.fault.release"
      | "iommufd.selftest.trigger_iopf";
  }
>;

/** Decide one fault command (errors: see each decider). */
export function decideFaultCommand(
  root: IommufdRoot,
  c: FaultCommand,
  ctx: DecideContext,
): { type: string; data: unknown }[] | Errno {
  switch (c.type) {
    case "iommufd.fault.alloc":
      return decideFaultAlloc(root, c.data.ctx, ctx);
    case "iommufd.fault.read":
      return decideFaultRead(root, c.data, ctx);
    case "iommufd.fault.respond":
      return decideFaultRespond(root, c.data);
    case "iommufd.fault.release":
      return decideFaultRelease(root, c.data);
    case "iommufd.selftest.trigger_iopf":
      return decideTriggerIopf(root, c.data);
  }
}
