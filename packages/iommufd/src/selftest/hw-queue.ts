/**
 * The selftest mock's HW queues (Linux drivers/iommu/iommufd/selftest.c
 * `mock_viommu_get_hw_queue_size()`, `mock_hw_queue_init_phys()`,
 * `mock_hw_queue_destroy()`): type IOMMU_HW_QUEUE_TYPE_SELFTEST only, at
 * most IOMMU_TEST_HW_QUEUE_MAX (2) per vIOMMU, allocated in ascending
 * index order — queue i > 0 needs queue i − 1 and depends on it (so
 * destroys go in descending order). The mock's check that the core's
 * physical address equals the parent domain's translation of the IOVA
 * (EFAULT otherwise, "a kernel bug") always holds here: the pinned frames
 * are the IOAS's frames, which the mock domain maps.
 */
import { type Errno, errno, IOMMU_HW_QUEUE_TYPE_SELFTEST, IOMMU_TEST_HW_QUEUE_MAX } from "@iommu-sim/uapi";
import type { HwQueueInit, HwRoot, ViommuRef } from "../drivers/driver";
import type { IommufdObject } from "../state";

/** The HW queue at `index` of vIOMMU object `viommuId` among `objects` (the mock's `hw_queue[index]`). */
export function hwQueueAt(
  objects: Readonly<Record<number, IommufdObject>>,
  viommuId: number,
  index: number,
): IommufdObject | undefined {
  for (const k in objects) {
    const o = objects[k]!;
    if (o.type === "hw_queue" && o.refs[0] === viommuId && o.queueIndex === index) return o;
  }
  return undefined;
}

/** `mock_viommu_get_hw_queue_size()` ≠ 0: only IOMMU_HW_QUEUE_TYPE_SELFTEST (0xdeadbeef). */
export function mockHwQueueTypeSupported(type: number): boolean {
  return type === IOMMU_HW_QUEUE_TYPE_SELFTEST;
}

/**
 * `mock_hw_queue_init_phys()`: EINVAL `index` ≥ IOMMU_TEST_HW_QUEUE_MAX;
 * EEXIST a queue at `index` already; EIO `index` > 0 without a queue at
 * `index` − 1, on which the new queue then depends.
 */
export function mockHwQueueInit(root: HwRoot, viommu: ViommuRef, index: number): HwQueueInit | Errno {
  if (index >= IOMMU_TEST_HW_QUEUE_MAX)
    return errno("EINVAL", `index ${index} ≥ IOMMU_TEST_HW_QUEUE_MAX (${IOMMU_TEST_HW_QUEUE_MAX})`);
  const objects = root.iommufd.contexts[viommu.ctx]!.objects;
  if (hwQueueAt(objects, viommu.id, index) !== undefined) return errno("EEXIST", `HW queue ${index} exists`);
  if (index === 0) return {};
  const prev = hwQueueAt(objects, viommu.id, index - 1);
  if (prev === undefined) return errno("EIO", `HW queue ${index - 1} must come first`);
  return { dependsOn: prev.id };
}
