/** VFIO groups, device files and the cdev path on iommufd (see the package README). */
export {
  boundCdev,
  cdevBindCheck,
  decideCdevAttach,
  decideCdevBind,
  decideCdevDetach,
  decideCdevOpen,
} from "./cdev";
export { decideDeviceClose, decideDeviceOpen, openersOf, opensDevice } from "./device-file";
export { deviceGetInfo } from "./device-info";
export {
  vfioCdevOpen,
  vfioDeviceIoctl,
  vfioDeviceIoctlArg,
  vfioDeviceIoctlUser,
  vfioDeviceRelease,
} from "./device-ioctl";
export { cdevDevice, groupDevices, pciName, type VfioDevice, vfioDevice, vfioDevices } from "./devices";
export { iommufdOfFd, type VfioEnv, type VfioFdTarget } from "./env";
export { evolveVfio, type VfioEvolveEvent } from "./evolve";
export {
  cdevBoundInGroup,
  decideGroupClose,
  decideGroupOpen,
  decideSetContainer,
  decideUnsetContainer,
  groupHasDeviceFiles,
  openGroup,
} from "./group";
export {
  bindGroup,
  checkViable,
  type GroupBinding,
  groupBindings,
  unbindGroup,
} from "./group-binding";
export {
  vfioGroupIoctl,
  vfioGroupIoctlArg,
  vfioGroupIoctlUser,
  vfioGroupOpen,
  vfioGroupRelease,
} from "./group-ioctl";
export { decideIommufdRelease, heldByVfio, withReleases } from "./lifetime";
export type { VfioCommand, VfioEvent, VfioMessage } from "./messages";
export { type VfioOpened, vfioIommufdRelease, vfioOpenPath } from "./paths";
export {
  INITIAL_VFIO_STATE,
  type VfioDeviceFile,
  type VfioGroupFile,
  type VfioRoot,
  type VfioState,
} from "./state";
export { createVfio, type VfioOptions } from "./subsystem";
export {
  createEmptyVfioSystemLog,
  createVfioSystemLog,
  type VfioSystemLog,
  type VfioSystemState,
} from "./system";
