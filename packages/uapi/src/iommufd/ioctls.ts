/**
 * iommufd ioctl numbers and the op table (struct + minimum size per command).
 *
 * Sources: include/uapi/linux/iommufd.h (command numbers, Linux v6.17) and
 * drivers/iommu/iommufd/main.c (`iommufd_ioctl_ops[]`: for each command its
 * struct and last mandatory member, which fixes the minimum user size).
 */
import { _IO, _IOC_NR } from "../ioctl";
import type { AnyLayout } from "../layout/index";
import { IOMMU_TEST_CMD, iommuTestCmd } from "../selftest";
import { iommuFaultAlloc } from "./fault";
import { iommuHwInfo } from "./hw-info";
import {
  iommuHwptAlloc,
  iommuHwptGetDirtyBitmap,
  iommuHwptInvalidate,
  iommuHwptSetDirtyTracking,
} from "./hwpt";
import {
  iommuDestroy,
  iommuIoasAlloc,
  iommuIoasAllowIovas,
  iommuIoasChangeProcess,
  iommuIoasCopy,
  iommuIoasIovaRanges,
  iommuIoasMap,
  iommuIoasMapFile,
  iommuIoasUnmap,
  iommuOption,
  iommuVfioIoas,
} from "./ioas";
import { iommuHwQueueAlloc, iommuVdeviceAlloc, iommuVeventqAlloc, iommuViommuAlloc } from "./viommu";

/** The iommufd ioctl type (magic): `';'` (0x3b). VFIO shares it. */
export const IOMMUFD_TYPE = ";";

/** `IOMMUFD_CMD_BASE`: the first iommufd command number (0x80). */
export const IOMMUFD_CMD_BASE = 0x80;

/** iommufd command numbers (`IOMMUFD_CMD_*`, the `nr` of each ioctl). */
export const IOMMUFD_CMD = {
  IOMMUFD_CMD_DESTROY: 0x80,
  IOMMUFD_CMD_IOAS_ALLOC: 0x81,
  IOMMUFD_CMD_IOAS_ALLOW_IOVAS: 0x82,
  IOMMUFD_CMD_IOAS_COPY: 0x83,
  IOMMUFD_CMD_IOAS_IOVA_RANGES: 0x84,
  IOMMUFD_CMD_IOAS_MAP: 0x85,
  IOMMUFD_CMD_IOAS_UNMAP: 0x86,
  IOMMUFD_CMD_OPTION: 0x87,
  IOMMUFD_CMD_VFIO_IOAS: 0x88,
  IOMMUFD_CMD_HWPT_ALLOC: 0x89,
  IOMMUFD_CMD_GET_HW_INFO: 0x8a,
  IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING: 0x8b,
  IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP: 0x8c,
  IOMMUFD_CMD_HWPT_INVALIDATE: 0x8d,
  IOMMUFD_CMD_FAULT_QUEUE_ALLOC: 0x8e,
  IOMMUFD_CMD_IOAS_MAP_FILE: 0x8f,
  IOMMUFD_CMD_VIOMMU_ALLOC: 0x90,
  IOMMUFD_CMD_VDEVICE_ALLOC: 0x91,
  IOMMUFD_CMD_IOAS_CHANGE_PROCESS: 0x92,
  IOMMUFD_CMD_VEVENTQ_ALLOC: 0x93,
  IOMMUFD_CMD_HW_QUEUE_ALLOC: 0x94,
} as const;
export type IommufdCmdName = keyof typeof IOMMUFD_CMD;

/** Full iommufd request numbers: `IOMMU_X = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_X)`, plus IOMMU_TEST_CMD. */
export const IOMMU_IOCTL = {
  IOMMU_DESTROY: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_DESTROY),
  IOMMU_IOAS_ALLOC: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_IOAS_ALLOC),
  IOMMU_IOAS_ALLOW_IOVAS: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_IOAS_ALLOW_IOVAS),
  IOMMU_IOAS_COPY: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_IOAS_COPY),
  IOMMU_IOAS_IOVA_RANGES: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_IOAS_IOVA_RANGES),
  IOMMU_IOAS_MAP: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_IOAS_MAP),
  IOMMU_IOAS_UNMAP: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_IOAS_UNMAP),
  IOMMU_OPTION: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_OPTION),
  IOMMU_VFIO_IOAS: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_VFIO_IOAS),
  IOMMU_HWPT_ALLOC: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_HWPT_ALLOC),
  IOMMU_GET_HW_INFO: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_GET_HW_INFO),
  IOMMU_HWPT_SET_DIRTY_TRACKING: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING),
  IOMMU_HWPT_GET_DIRTY_BITMAP: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP),
  IOMMU_HWPT_INVALIDATE: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_HWPT_INVALIDATE),
  IOMMU_FAULT_QUEUE_ALLOC: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_FAULT_QUEUE_ALLOC),
  IOMMU_IOAS_MAP_FILE: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_IOAS_MAP_FILE),
  IOMMU_VIOMMU_ALLOC: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_VIOMMU_ALLOC),
  IOMMU_VDEVICE_ALLOC: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_VDEVICE_ALLOC),
  IOMMU_IOAS_CHANGE_PROCESS: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_IOAS_CHANGE_PROCESS),
  IOMMU_VEVENTQ_ALLOC: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_VEVENTQ_ALLOC),
  IOMMU_HW_QUEUE_ALLOC: _IO(IOMMUFD_TYPE, IOMMUFD_CMD.IOMMUFD_CMD_HW_QUEUE_ALLOC),
  IOMMU_TEST_CMD,
} as const;
export type IommuIoctlName = keyof typeof IOMMU_IOCTL;

/** One row of the iommufd op table. Sizes in bytes. */
export interface IommufdIoctlOp {
  /** Linux name, e.g. `"IOMMU_IOAS_MAP"`. */
  readonly name: IommuIoctlName;
  /** Full request number. */
  readonly ioctl: number;
  /** Command number (`_IOC_NR`). */
  readonly nr: number;
  /** The argument struct. */
  readonly layout: AnyLayout;
  /** Kernel struct size (`sizeof`). */
  readonly size: number;
  /** Minimum user size: `offsetofend(struct, last)`. */
  readonly minSize: number;
  /** The `last` member of `IOCTL_OP(...)`. */
  readonly last: string;
  /** Only present with CONFIG_IOMMUFD_TEST. */
  readonly selftest: boolean;
}

function op(name: IommuIoctlName, layout: AnyLayout, selftest = false): IommufdIoctlOp {
  const ioctl = IOMMU_IOCTL[name];
  return Object.freeze({
    name,
    ioctl,
    nr: _IOC_NR(ioctl),
    layout,
    size: layout.size,
    minSize: layout.minSize,
    last: layout.lastMandatory,
    selftest,
  });
}

/**
 * The op table of drivers/iommu/iommufd/main.c (Linux v6.17): every iommufd
 * command with its struct and minimum size, in command-number order, with
 * IOMMU_TEST_CMD (0xa0) last.
 */
export const IOMMUFD_IOCTL_OPS: readonly IommufdIoctlOp[] = Object.freeze([
  op("IOMMU_DESTROY", iommuDestroy),
  op("IOMMU_IOAS_ALLOC", iommuIoasAlloc),
  op("IOMMU_IOAS_ALLOW_IOVAS", iommuIoasAllowIovas),
  op("IOMMU_IOAS_COPY", iommuIoasCopy),
  op("IOMMU_IOAS_IOVA_RANGES", iommuIoasIovaRanges),
  op("IOMMU_IOAS_MAP", iommuIoasMap),
  op("IOMMU_IOAS_UNMAP", iommuIoasUnmap),
  op("IOMMU_OPTION", iommuOption),
  op("IOMMU_VFIO_IOAS", iommuVfioIoas),
  op("IOMMU_HWPT_ALLOC", iommuHwptAlloc),
  op("IOMMU_GET_HW_INFO", iommuHwInfo),
  op("IOMMU_HWPT_SET_DIRTY_TRACKING", iommuHwptSetDirtyTracking),
  op("IOMMU_HWPT_GET_DIRTY_BITMAP", iommuHwptGetDirtyBitmap),
  op("IOMMU_HWPT_INVALIDATE", iommuHwptInvalidate),
  op("IOMMU_FAULT_QUEUE_ALLOC", iommuFaultAlloc),
  op("IOMMU_IOAS_MAP_FILE", iommuIoasMapFile),
  op("IOMMU_VIOMMU_ALLOC", iommuViommuAlloc),
  op("IOMMU_VDEVICE_ALLOC", iommuVdeviceAlloc),
  op("IOMMU_IOAS_CHANGE_PROCESS", iommuIoasChangeProcess),
  op("IOMMU_VEVENTQ_ALLOC", iommuVeventqAlloc),
  op("IOMMU_HW_QUEUE_ALLOC", iommuHwQueueAlloc),
  op("IOMMU_TEST_CMD", iommuTestCmd, true),
]);

const BY_IOCTL = new Map<number, IommufdIoctlOp>(IOMMUFD_IOCTL_OPS.map((o) => [o.ioctl, o]));
const BY_NAME = new Map<string, IommufdIoctlOp>(IOMMUFD_IOCTL_OPS.map((o) => [o.name, o]));

/**
 * The op for request number `cmd`, or undefined if iommufd has no such
 * command (the caller answers ENOTTY, or routes numbers outside the iommufd
 * range to the VFIO compatibility ioctls as iommufd_fops_ioctl does).
 * A number whose `nr` matches but whose dir/size bits differ is not a match
 * (Linux: ENOIOCTLCMD, seen by userspace as ENOTTY).
 */
export function iommufdIoctlOp(cmd: number): IommufdIoctlOp | undefined {
  return BY_IOCTL.get(cmd >>> 0);
}

/** The op called `name` (e.g. `"IOMMU_IOAS_MAP"`), or undefined. */
export function iommufdIoctlOpByName(name: string): IommufdIoctlOp | undefined {
  return BY_NAME.get(name);
}
