/**
 * The system PASID, as Jason Gunthorpe set it out in seeds/001:
 *
 * - Option 1, "a PASID that is equivalent to the RID": the device's DMA-API
 *   domain is reachable through its RID and through this PASID, and every
 *   invalidation flushes both ("flushes both the RID and PASID based
 *   caches"). Portable, available for any PASID-capable device. Linux later
 *   merged exactly this (v6.4: iommu_alloc_global_pasid() +
 *   iommu_attach_device_pasid(dev's DMA domain), idxd_enable_system_pasid()).
 * - Option 2, a PASID pointing at the kernel direct map: "a completely
 *   different API family", only for "a physically trusted on-socket device",
 *   and behind "an admin option to turn this off entirely" — off by default
 *   here. Every device attached to it shares the one PASID (Tony Luck: "any
 *   accelerator device with a kernel use case would use the same PASID").
 *
 * System PASIDs come from the platform space and are the kernel's: they
 * belong to no process set and charge no quota.
 */
import type { SubsystemDecideContext } from "@iommu-sim/eventlog";
import { type Errno, errno, type IoasidCommand, type IoasidEvent, isErrno } from "@iommu-sim/uapi";
import type { DeviceLookup, PasidDevice } from "./device";
import type { IoasidState } from "./state";
import { devicePasidMax } from "./sva";

type Cmd<T extends IoasidCommand["type"]> = Extract<IoasidCommand, { type: T }>["data"];
type Decision = readonly IoasidEvent[] | Errno;

function pasidDevice(dev: PasidDevice | undefined, rid: number): PasidDevice | Errno {
  if (dev === undefined) return errno("ENODEV", `no device ${rid}`);
  if (!dev.pasidEnabled) return errno("ENODEV", `device ${rid} has PASID disabled`);
  return dev;
}

/**
 * Option 1 (systemPasid.enable): allocate a global PASID for `rid` and
 * attach the device's DMA-API domain to it.
 * Errors: ENODEV (no device, PASID disabled); EBUSY (it has one);
 * ENOSPC (no free PASID: iommu_alloc_global_pasid() → IOMMU_PASID_INVALID,
 * which idxd turns into -ENOSPC); ENOMEM (injected).
 * Events: pasid.allocated {use: "system", rid}, systemPasid.enabled.
 */
export function decideEnable<R>(
  state: IoasidState,
  c: Cmd<"systemPasid.enable">,
  ctx: SubsystemDecideContext<R>,
  devices: DeviceLookup<R>,
): Decision {
  const dev = pasidDevice(devices(ctx.root, c.rid), c.rid);
  if (isErrno(dev)) return dev;
  if (state.systemPasids[c.rid] !== undefined) return errno("EBUSY", `device ${c.rid} has a system PASID`);
  const pasid = state.space.lowestClear(1, devicePasidMax(dev, state.space.capacity));
  if (pasid < 0) return errno("ENOSPC", "no free PASID for a system PASID");
  const e = ctx.step("systemPasid.alloc");
  if (e) return e;
  return [
    { type: "pasid.allocated", data: { pasid, use: "system", rid: c.rid } },
    { type: "systemPasid.enabled", data: { rid: c.rid, pasid } },
  ];
}

/** Option 1 off: ENOENT unless `rid` has one. Events: systemPasid.disabled, pasid.freed. */
export function decideDisable(state: IoasidState, c: Cmd<"systemPasid.disable">): Decision {
  const pasid = state.systemPasids[c.rid];
  if (pasid === undefined) return errno("ENOENT", `device ${c.rid} has no system PASID`);
  return [
    { type: "systemPasid.disabled", data: { rid: c.rid, pasid } },
    { type: "pasid.freed", data: { pasid, use: "system", rid: c.rid } },
  ];
}

/**
 * Option 2 (systemPasid.directMap.enable): attach `rid` to the kernel
 * direct-map PASID, allocating it for the first device.
 * Errors: ENODEV (no device, PASID disabled); EPERM when the administrator
 * has not allowed it, or the device is untrusted, behind an external-facing
 * port, or not on the CPU socket (the reason says which); EBUSY (attached);
 * EOVERFLOW (the shared PASID is beyond what the device can emit); ENOSPC
 * (no free PASID); ENOMEM (injected).
 * Events: [pasid.allocated {use: "directMap"}], systemPasid.directMapEnabled.
 */
export function decideDirectMapEnable<R>(
  state: IoasidState,
  c: Cmd<"systemPasid.directMap.enable">,
  ctx: SubsystemDecideContext<R>,
  devices: DeviceLookup<R>,
): Decision {
  const dev = pasidDevice(devices(ctx.root, c.rid), c.rid);
  if (isErrno(dev)) return dev;
  if (!state.allowDirectMap)
    return errno("EPERM", "direct-map PASID refused: not allowed by the administrator (systemPasid.policy)");
  if (!dev.trusted || dev.external)
    return errno("EPERM", `direct-map PASID refused: device ${c.rid} is untrusted (external-facing port)`);
  if (!dev.onSocket)
    return errno("EPERM", `direct-map PASID refused: device ${c.rid} is not an on-socket device`);
  const dm = state.directMap;
  if (dm?.rids.includes(c.rid)) return errno("EBUSY", `device ${c.rid} is attached to the direct-map PASID`);
  const max = devicePasidMax(dev, state.space.capacity);
  if (dm !== undefined) {
    if (dm.pasid > max)
      return errno("EOVERFLOW", `direct-map PASID ${dm.pasid} beyond device ${c.rid}'s max`);
    return [{ type: "systemPasid.directMapEnabled", data: { rid: c.rid, pasid: dm.pasid } }];
  }
  const pasid = state.space.lowestClear(1, max);
  if (pasid < 0) return errno("ENOSPC", "no free PASID for the direct-map PASID");
  const e = ctx.step("systemPasid.directMap.alloc");
  if (e) return e;
  return [
    { type: "pasid.allocated", data: { pasid, use: "directMap" } },
    { type: "systemPasid.directMapEnabled", data: { rid: c.rid, pasid } },
  ];
}

/** Option 2 off for `rid`: ENOENT unless attached; the last device frees the PASID. */
export function decideDirectMapDisable(
  state: IoasidState,
  c: Cmd<"systemPasid.directMap.disable">,
): Decision {
  const dm = state.directMap;
  if (dm === undefined || !dm.rids.includes(c.rid))
    return errno("ENOENT", `device ${c.rid} is not attached to the direct-map PASID`);
  const out: IoasidEvent[] = [
    { type: "systemPasid.directMapDisabled", data: { rid: c.rid, pasid: dm.pasid } },
  ];
  if (dm.rids.length === 1) out.push({ type: "pasid.freed", data: { pasid: dm.pasid, use: "directMap" } });
  return out;
}

/**
 * The administrator toggle for option 2. Turning it off refuses new
 * attachments; devices already attached stay (detach them explicitly), as a
 * boot-time/sysfs policy in Linux governs new requests.
 * Events: systemPasid.policySet.
 */
export function decidePolicy(c: Cmd<"systemPasid.policy">): Decision {
  return [{ type: "systemPasid.policySet", data: { allowDirectMap: c.allowDirectMap } }];
}
