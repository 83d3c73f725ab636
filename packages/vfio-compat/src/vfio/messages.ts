/** The typed commands and events of the `vfio.` subsystem (schemas: @iommu-sim/uapi vocab/vfio.ts). */
import type { MessagesOf, vfioMessages } from "@iommu-sim/uapi";

type All = MessagesOf<typeof vfioMessages>;
/** Every `vfio.` message. */
export type VfioMessage = All;
/** Commands decided by the vfio subsystem. */
export type VfioCommand = Extract<
  All,
  {
    type:
      | "vfio.group.open"
      | "vfio.group.set_container"
      | "vfio.group.unset_container"
      | "vfio.group.close"
      | "vfio.device.open"
      | "vfio.cdev.open"
      | "vfio.cdev.bind"
      | "vfio.cdev.attach"
      | "vfio.cdev.detach"
      | "vfio.device.close"
      | "vfio.iommufd.release";
  }
>;
/** Events of the vfio slice. */
export type VfioEvent = Exclude<All, VfioCommand>;
/** What a vfio command decides: its own events and iommufd's / iopt's / the hardware's. */
export type Decided = { type: string; data: unknown }[];
