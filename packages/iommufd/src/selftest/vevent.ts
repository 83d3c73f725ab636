/**
 * IOMMU_TEST_OP_TRIGGER_VEVENT (Linux drivers/iommu/iommufd/selftest.c
 * `iommufd_test_trigger_vevent()`): mock device `dev_id` reports a vEVENT
 * of type IOMMU_VEVENTQ_TYPE_SELFTEST whose data is `struct
 * iommu_viommu_event_selftest {u32 virt_id}` — its virtual id on the
 * vIOMMU — through `iommufd_viommu_report_event()` (veventq/decide.ts).
 *
 * The mock knows the device's vIOMMU and virtual id from its RID attach
 * (`mock_domain_nop_attach()` sets `mdev->viommu` and `mdev->vdev_id` when
 * the RID attaches to a nested domain allocated on a vIOMMU, and clears
 * them on any other attach). The model reads both from the current RID
 * attachment and the device's vDEVICE on that vIOMMU: the same values,
 * since the attach needed that vDEVICE (drivers/mock.ts) — except after the
 * vDEVICE is destroyed under the attachment, where Linux would still
 * report the old id and the model answers ENOENT.
 */
import type { DecideContext } from "@iommu-sim/eventlog";
import {
  type Errno,
  errno,
  IOMMU_VEVENTQ_TYPE_SELFTEST,
  iommuViommuEventSelftest,
  isErrno,
} from "@iommu-sim/uapi";
import type { IoctlCall } from "../ioctl/call";
import { getContext, getObject } from "../objects";
import type { IommufdRoot } from "../root";
import type { IommufdContext, IommufdObject } from "../state";
import { vdeviceOfDevice } from "../vdevice";
import { reportVevent } from "../veventq/decide";

/**
 * The vIOMMU object and virtual id behind mock device `idev`'s RID
 * attachment (`mdev->viommu`, `mdev->vdev_id`), if it is attached to a
 * nested domain of a vIOMMU and has its vDEVICE there.
 */
function mockViommuOf(
  root: IommufdRoot,
  c: IommufdContext,
  idev: IommufdObject,
): { viommu: IommufdObject; virtId: bigint } | undefined {
  if (idev.device !== undefined) return undefined; // a platform device: no mock_dev
  const hwpt = idev.refs.length > 0 ? c.objects[idev.refs[0]!] : undefined;
  if (hwpt?.type !== "hwpt_nested" || hwpt.kobj === undefined) return undefined;
  const viommuKobj = root.iommufd.mockNested?.[hwpt.kobj]?.viommu;
  if (viommuKobj === undefined) return undefined;
  const vdev = vdeviceOfDevice(c, idev.id);
  const viommu = vdev === undefined ? undefined : c.objects[vdev.refs[0]!];
  if (viommu?.kobj !== viommuKobj || vdev?.virtId === undefined) return undefined;
  return { viommu, virtId: vdev.virtId };
}

/**
 * `iommufd.selftest.trigger_vevent`. Errors, in Linux's order: EBADF
 * context; ENOENT `devId` is not a device; ENOENT the device is not
 * attached (RID) to a nested domain of a vIOMMU, or its virtual id is 0
 * (`!mdev->vdev_id`); then `reportVevent`'s: EOPNOTSUPP no vEVENTQ of type
 * IOMMU_VEVENTQ_TYPE_SELFTEST on the vIOMMU, ENOMEM at
 * `iommufd.vevent_alloc`. The data is the low 32 bits of the virtual id
 * (`test.virt_id = mdev->vdev_id`, an unsigned long into a __u32).
 */
export function decideTriggerVevent(
  root: IommufdRoot,
  d: { ctx: number; devId: number },
  ctx: DecideContext,
): { type: string; data: unknown }[] | Errno {
  const c = getContext(root.iommufd, d.ctx);
  if (isErrno(c)) return c;
  const idev = getObject(c, d.devId, "device");
  if (isErrno(idev)) return idev;
  const on = mockViommuOf(root, c, idev);
  if (on === undefined || on.virtId === 0n)
    return errno("ENOENT", `device ${d.devId} is not on a vIOMMU under a virtual id`);
  const data = iommuViommuEventSelftest.encode({ virt_id: Number(BigInt.asUintN(32, on.virtId)) });
  return reportVevent(root, d.ctx, on.viommu.id, IOMMU_VEVENTQ_TYPE_SELFTEST, data, ctx);
}

/** IOMMU_TEST_OP_TRIGGER_VEVENT `trigger_vevent {dev_id}` → 0 or −errno. */
export function triggerVevent(call: IoctlCall<IommufdRoot>, t: { dev_id: number }): number {
  const r = call.env.dispatch({
    type: "iommufd.selftest.trigger_vevent",
    data: { ctx: call.ctx, devId: t.dev_id },
  });
  return isErrno(r) ? r.ret : 0;
}
