/** The typed commands and events of the `iommufd.` subsystem (schemas: @iommu-sim/uapi vocab/iommufd.ts). */
import type { iommufdMessages, MessagesOf } from "@iommu-sim/uapi";

type All = MessagesOf<typeof iommufdMessages>;
/** Every `iommufd.` message. */
export type IommufdMessage = All;
/** Commands decided by the iommufd subsystem. */
export type IommufdCommand = Extract<
  All,
  {
    type:
      | "iommufd.open"
      | "iommufd.close"
      | "iommufd.destroy"
      | "iommufd.option.set"
      | "iommufd.ioas.alloc"
      | "iommufd.selftest.mock_domain"
      | "iommufd.selftest.mock_domain_replace"
      | "iommufd.hwpt.alloc"
      | "iommufd.vfio_ioas.set"
      | "iommufd.device.bind"
      | "iommufd.device.unbind"
      | "iommufd.device.attach"
      | "iommufd.device.replace"
      | "iommufd.device.detach";
  }
>;
/** Events the iommufd slice evolves on. */
export type IommufdEvent = Exclude<All, IommufdCommand>;
