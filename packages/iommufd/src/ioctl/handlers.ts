/**
 * The iommufd ioctl handlers that exist so far, by Linux ioctl name.
 */
import {
  IOMMU_OPTION_HUGE_PAGES,
  IOMMU_OPTION_OP_GET,
  IOMMU_OPTION_OP_SET,
  IOMMU_OPTION_RLIMIT_MODE,
  type IommuIoctlName,
  isErrno,
} from "@iommu-sim/uapi";
import type { IommufdRoot } from "../root";
import { ABSENT_FEATURE_HANDLERS } from "./absent-handlers";
import { type IoctlCall, respond } from "./call";
import { getHwInfo, hwptAlloc } from "./device-handlers";
import { faultQueueAlloc } from "./fault-handlers";
import { hwQueueAlloc } from "./hw-queue-handlers";
import {
  ioasAlloc,
  ioasAllowIovas,
  ioasCopy,
  ioasIovaRanges,
  ioasMap,
  ioasMapFile,
  ioasOptionHugePages,
  ioasUnmap,
  vfioIoas,
} from "./ioas-handlers";
import { hwptInvalidate } from "./nested-handlers";
import { testCmd } from "./selftest-handler";
import { veventqAlloc } from "./veventq-handlers";
import { vdeviceAlloc, viommuAlloc } from "./viommu-handlers";

type Handler = (call: IoctlCall<IommufdRoot>) => number;

function commit(call: IoctlCall<IommufdRoot>, command: { type: string; data: unknown }): number {
  const r = call.env.dispatch(command);
  return isErrno(r) ? r.ret : 0;
}

/** IOMMU_DESTROY: `{size, id}`. */
const destroy: Handler = (call) =>
  commit(call, { type: "iommufd.destroy", data: { ctx: call.ctx, id: call.value.id } });

/** IOMMU_OPTION: `{size, option_id, op, __reserved, object_id, val64}`; GET answers in val64. */
const option: Handler = (call) => {
  const { option_id, op, object_id, val64 } = call.value as {
    option_id: number;
    op: number;
    object_id: number;
    val64: bigint;
  };
  if (op === IOMMU_OPTION_OP_SET) {
    if (option_id === IOMMU_OPTION_HUGE_PAGES) return ioasOptionHugePages(call, "set", object_id, val64);
    return commit(call, {
      type: "iommufd.option.set",
      data: { ctx: call.ctx, option: option_id, objectId: object_id, value: val64 },
    });
  }
  if (op !== IOMMU_OPTION_OP_GET) return -95; // EOPNOTSUPP
  const c = call.env.peek().iommufd.contexts[call.ctx]!;
  if (option_id === IOMMU_OPTION_RLIMIT_MODE) {
    if (object_id !== 0) return -95;
    respond(call, { ...call.value, val64: c.accountMode === "mm" ? 1n : 0n });
    return 0;
  }
  if (option_id === IOMMU_OPTION_HUGE_PAGES) return ioasOptionHugePages(call, "get", object_id, val64);
  return -95;
};

/** Handlers by ioctl name; a missing name answers ENOTTY. */
export const HANDLERS: Partial<Record<IommuIoctlName, Handler>> = {
  IOMMU_DESTROY: destroy,
  IOMMU_OPTION: option,
  IOMMU_IOAS_ALLOC: ioasAlloc,
  IOMMU_IOAS_MAP: ioasMap,
  IOMMU_IOAS_MAP_FILE: ioasMapFile,
  IOMMU_IOAS_UNMAP: ioasUnmap,
  IOMMU_IOAS_COPY: ioasCopy,
  IOMMU_IOAS_ALLOW_IOVAS: ioasAllowIovas,
  IOMMU_IOAS_IOVA_RANGES: ioasIovaRanges,
  IOMMU_TEST_CMD: testCmd,
  IOMMU_HWPT_ALLOC: hwptAlloc,
  IOMMU_FAULT_QUEUE_ALLOC: faultQueueAlloc,
  IOMMU_HWPT_INVALIDATE: hwptInvalidate,
  IOMMU_GET_HW_INFO: getHwInfo,
  IOMMU_VFIO_IOAS: vfioIoas,
  IOMMU_VIOMMU_ALLOC: viommuAlloc,
  IOMMU_VDEVICE_ALLOC: vdeviceAlloc,
  IOMMU_VEVENTQ_ALLOC: veventqAlloc,
  IOMMU_HW_QUEUE_ALLOC: hwQueueAlloc,
  ...ABSENT_FEATURE_HANDLERS,
};
