/**
 * IOMMU_TEST_OP_MOCK_DOMAIN and _FLAGS (Linux drivers/iommu/iommufd/selftest.c
 * iommufd_test_mock_domain): create a mock device in a selftest object,
 * bind it to the context (a device object the "driver" holds), and attach
 * it to `pt_id` — an IOAS (auto domain: reuse an auto-domain HWPT on it,
 * else allocate one, with flags 0), a paging HWPT, or a nested HWPT (the
 * device translates through it; its IOAS is the parent's), as
 * device.c iommufd_device_change_pt takes all three. Ids come in Linux's
 * order: the selftest object, the device, then a new HWPT.
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import {
  type Errno,
  errno,
  isErrno,
  MOCK_FLAGS_DEVICE_HUGE_IOVA,
  MOCK_FLAGS_DEVICE_NO_DIRTY,
  MOCK_FLAGS_DEVICE_PASID,
} from "@iommu-sim/uapi";
import { resolveAttachTarget } from "../attach";
import { domainRef, mockDeviceInfo } from "../devices";
import type { HwRoot } from "../drivers/driver";
import { mockDriver } from "../drivers/mock";
import { allocObjectId, getContext } from "../objects";
import type { IommufdRoot } from "../root";

type Decided = { type: string; data: unknown }[];

const KNOWN_FLAGS = MOCK_FLAGS_DEVICE_NO_DIRTY | MOCK_FLAGS_DEVICE_HUGE_IOVA | MOCK_FLAGS_DEVICE_PASID;

/**
 * Errors: EBADF context; EINVAL unknown flags, or `ptId` neither an IOAS nor
 * a (paging or nested) HWPT, or the mock driver's attach refusal (a
 * NO_DIRTY device on a dirty-tracking HWPT); ENOENT no object `ptId`; ENOMEM fault points
 * `selftest.mock_dev_create`, `iommufd.device_bind`, and the HWPT's.
 * Events: [new HWPT's], device object (driver-held, attached), selftest
 * object (holding the device).
 */
export function decideMockDomain(
  root: IommufdRoot,
  c: { ctx: number; ptId: number; flags: number },
  ctx: SubsystemDecideContext<IommufdRoot>,
): Decided | Errno {
  const context = getContext(root.iommufd, c.ctx);
  if (isErrno(context)) return context;
  if ((c.flags & ~KNOWN_FLAGS) !== 0) return errno("EINVAL", "unknown MOCK_FLAGS_DEVICE_* bits");
  const pt = context.objects[c.ptId];
  if (pt === undefined) return errno("ENOENT", `no object ${c.ptId}`);
  if (pt.type !== "ioas" && pt.type !== "hwpt_paging" && pt.type !== "hwpt_nested")
    return errno("EINVAL", `object ${c.ptId} is a ${pt.type}`);
  const stdevId = allocObjectId(context);
  if (isErrno(stdevId)) return stdevId;
  const idevId = allocObjectId(context, [stdevId]);
  if (isErrno(idevId)) return idevId;
  for (const site of ["selftest.mock_dev_create", "iommufd.device_bind"]) {
    const fail = ctx.step(site, "ENOMEM");
    if (fail) return fail;
  }
  const deviceKobj = root.iommufd.nextKobj;
  const target = resolveAttachTarget(root, context, c.ptId, [stdevId, idevId], deviceKobj + 1, ctx);
  if (isErrno(target)) return target;
  const hwptId = target.hwptId;
  // The mock driver's attach_dev (drivers/mock.ts): a new auto domain is not in the table yet.
  const info = mockDeviceInfo(c.ctx, { id: idevId, type: "device", refs: [], flags: c.flags });
  const kobj = context.objects[hwptId]?.kobj ?? deviceKobj + 1;
  const hw = mockDriver.attachDevice(root as HwRoot, domainRef(root.iommufd, kobj), info, 0, ctx);
  if (isErrno(hw)) return hw;
  const events: Decided = [...target.events, ...hw];
  events.push(
    {
      type: "iommufd.object.created",
      data: {
        ctx: c.ctx,
        id: idevId,
        type: "device",
        kobj: deviceKobj,
        refs: [hwptId],
        external: 1,
        flags: c.flags,
      },
    },
    { type: "iommufd.object.created", data: { ctx: c.ctx, id: stdevId, type: "selftest", refs: [idevId] } },
  );
  return events;
}

/** The ids MOCK_DOMAIN answers with (out_stdev_id, out_hwpt_id, out_idev_id), from its events. */
export function mockDomainIds(events: readonly { type: string; data: unknown }[]): {
  stdev: number;
  hwpt: number;
  idev: number;
} {
  const created = events
    .filter((e) => e.type === "iommufd.object.created")
    .map((e) => e.data as { id: number; type: string; refs: number[] });
  const dev = created.find((o) => o.type === "device")!;
  return { stdev: created.find((o) => o.type === "selftest")!.id, idev: dev.id, hwpt: dev.refs[0]! };
}
