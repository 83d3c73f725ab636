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
      | "iommufd.device.detach"
      | "iommufd.fault.alloc"
      | "iommufd.fault.read"
      | "iommufd.fault.respond"
      | "iommufd.fault.release"
      | "iommufd.selftest.trigger_iopf"
      | "iommufd.veventq.alloc"
      | "iommufd.veventq.read"
      | "iommufd.veventq.release"
      | "iommufd.selftest.trigger_vevent"
      | "iommufd.hw_queue.alloc"
      | "iommufd.hwpt.invalidate"
      | "iommufd.viommu.alloc"
      | "iommufd.vdevice.alloc"
      | "iommufd.selftest.access_create"
      | "iommufd.selftest.access_destroy"
      | "iommufd.selftest.access_replace_ioas"
      | "iommufd.selftest.access_pages"
      | "iommufd.selftest.access_pages_destroy"
      | "iommufd.selftest.access_write"
      | "iommufd.selftest.pasid_attach"
      | "iommufd.selftest.pasid_replace"
      | "iommufd.selftest.pasid_detach";
  }
>;
/** Events the iommufd slice evolves on. */
export type IommufdEvent = Exclude<All, IommufdCommand>;
