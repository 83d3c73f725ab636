/**
 * IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE (Linux selftest.c
 * iommufd_test_mock_domain_replace → device.c iommufd_device_replace): move
 * the selftest object's device to another IOAS (auto domain, flags 0), a
 * paging HWPT or a nested HWPT in one step; an auto-domain HWPT it leaves
 * without devices goes.
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import { type Errno, errno, isErrno } from "@iommu-sim/uapi";
import { resolveAttachTarget } from "../attach";
import { destroyEffects } from "../destroy-hooks";
import { domainRef, mockDeviceInfo } from "../devices";
import type { HwRoot } from "../drivers/driver";
import { mockDriver } from "../drivers/mock";
import { faultDetachEffects } from "../fault/attach";
import { getContext, getObject, usersOf } from "../objects";
import type { IommufdRoot } from "../root";
import { checkMockRidCompat } from "./pasid";

type Decided = { type: string; data: unknown }[];

/**
 * Errors: ENOENT no selftest object `stdevId` or no object `ptId`; EINVAL a
 * `ptId` of another type, or a device that is not attached, or (PASIDs
 * attached, selftest/pasid.ts) a HWPT without IOMMU_HWPT_ALLOC_PASID, or
 * the mock driver's attach refusal (drivers/mock.ts); a new HWPT's errors.
 * Events: [new HWPT], the device's refs, [the old auto domain's destruction].
 * Replacing with the current HWPT changes nothing (no events).
 */
export function decideMockDomainReplace(
  root: IommufdRoot,
  c: { ctx: number; stdevId: number; ptId: number },
  ctx: SubsystemDecideContext<IommufdRoot>,
): Decided | Errno {
  const context = getContext(root.iommufd, c.ctx);
  if (isErrno(context)) return context;
  const sobj = getObject(context, c.stdevId, "selftest");
  if (isErrno(sobj)) return sobj;
  const idev = context.objects[sobj.refs[0]!]!;
  const oldId = idev.refs[0];
  if (oldId === undefined) return errno("EINVAL", "the device is not attached");
  const target = resolveAttachTarget(root, context, c.ptId, [], root.iommufd.nextKobj, ctx);
  if (isErrno(target)) return target;
  if (target.hwptId === oldId) return [];
  const incompatible = checkMockRidCompat(context, sobj, target.hwptId);
  if (incompatible) return incompatible;
  // The mock driver's attach_dev (drivers/mock.ts): a new auto domain is not in the table yet.
  const kobj = context.objects[target.hwptId]?.kobj ?? root.iommufd.nextKobj;
  const info = mockDeviceInfo(c.ctx, idev);
  const hw = mockDriver.attachDevice(root as HwRoot, domainRef(root.iommufd, kobj), info, 0, ctx);
  if (isErrno(hw)) return hw;
  const events: Decided = [
    ...target.events,
    ...hw,
    // The old HWPT's pending page requests of the device are answered INVALID (fault/attach.ts).
    ...faultDetachEffects(root, c.ctx, idev.id, 0),
    { type: "iommufd.object.refs.set", data: { ctx: c.ctx, id: idev.id, refs: [target.hwptId] } },
  ];
  const old = context.objects[oldId]!;
  if (old.autoDomain === true && usersOf(context, oldId).every((u) => u === idev.id)) {
    const effects = destroyEffects(root, c.ctx, old);
    if (isErrno(effects)) return effects;
    events.push(...effects, {
      type: "iommufd.object.destroyed",
      data: { ctx: c.ctx, id: oldId, type: old.type },
    });
  }
  return events;
}

/** The HWPT id a replace answers with (pt_id out): the device's new attachment. */
export function replacedPtId(root: IommufdRoot, ctxId: number, stdevId: number): number {
  const c = root.iommufd.contexts[ctxId]!;
  return c.objects[c.objects[stdevId]!.refs[0]!]!.refs[0]!;
}
